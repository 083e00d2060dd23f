"""PostgreSQL stopped under a request: the platform hears "try again" (503: Telegram delivers
the update again), not an HTTP 500, and the redelivery is stored once (issue #19, item 6)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import asyncpg

from conversations.drafting import OfflineDrafter
from conversations.events import Inbound
from conversations.model import SectionStatus
from conversations.ports import StoreUnavailable
from etp.container import build_app
from tests.fault.conftest import USER, Deployment, prepare_review, record
from tests.fault.procs import PrivatePostgres, until
from tests.helpers import (
    GOOD_ANSWERS,
    Chat,
    SlowDrafter,
    load_etp,
    make_chat,
    override,
    settings_for,
)


async def test_postgres_shutdown_mid_request_answers_store_unavailable_not_500(
    deployment: Deployment,
) -> None:
    await prepare_review(deployment.pg)
    await deployment.serve()
    assert (await deployment.say("/status")).status_code == 200
    # hold the conversation's row: the next message's statement waits for it, mid-statement
    holder = await asyncpg.connect(
        host="127.0.0.1", port=deployment.pg.port, user="postgres", database="etp"
    )
    try:
        await holder.execute("BEGIN")
        await holder.execute(
            "SELECT id FROM conversations WHERE chat_id = $1 FOR UPDATE", str(USER)
        )
        answering_id = deployment.updates.next_id + 1
        answering = asyncio.create_task(deployment.say("Mais uma informação."))
        await until(
            lambda: holder.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            ),
            what="the request waits on the row",
        )
        stopped = time.monotonic()
        # every session ends at once: a fast stop ends the row's holder first, and the waiting
        # statement could still commit before its own end
        deployment.pg.stop("immediate")
        response = await asyncio.wait_for(answering, 60)
        record("PostgreSQL stopped mid-request: answer", time.monotonic() - stopped)
    finally:
        if not holder.is_closed():
            holder.terminate()
    # Telegram delivers the update again on a 503; a 500 is an error, logged and dropped
    assert response.status_code == 503, (response.status_code, response.text)
    deployment.pg.start()
    # Telegram's redelivery is handled as the first delivery would have been: stored once
    update = deployment.updates.message("Mais uma informação.", chat_id=USER, user_id=USER)
    update["update_id"] = answering_id
    assert (await deployment.post(update)).status_code == 200
    assert (await deployment.post(update)).status_code == 200  # and a duplicate is only that
    etp = await deployment.etp()
    texts = [a.text for a in etp.section(1).answers]
    assert texts.count("Mais uma informação.") == 1


async def test_postgres_stopped_under_traffic_is_only_ever_store_unavailable(
    pg: PrivatePostgres,
) -> None:
    # many events at once (the service in this process, as `etp serve` runs it) while the
    # database stops and starts: asyncpg also fails as a broken protocol then ("cannot switch
    # to state 12; another operation is in progress"), which escaped as itself: an HTTP 500
    # for the webhook, no "tente novamente" for Slack. Every failure must be StoreUnavailable.
    app = await build_app(settings_for(pg.url), drafter=OfflineDrafter(), migrate=False)
    chats = [make_chat(app, chat_id=f"load-{i}", user_id=f"u{i}") for i in range(12)]
    failures: Counter[str] = Counter()
    handled = 0
    stopping = False

    async def talk(chat: Chat) -> None:
        nonlocal handled
        await chat.say("/novo Papel A4")
        while not stopping:
            try:
                await chat.service.handle(Inbound.from_text(chat.address, chat.author, "/status"))
                handled += 1
            except StoreUnavailable:
                failures["StoreUnavailable"] += 1
                await asyncio.sleep(0.005)
            except Exception as exc:
                failures[f"{type(exc).__name__}: {exc}"] += 1
                await asyncio.sleep(0.005)

    talking = [asyncio.create_task(talk(chat)) for chat in chats]
    try:
        for _ in range(4):
            await asyncio.sleep(0.8)
            await asyncio.to_thread(pg.stop)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(pg.start)
        await asyncio.sleep(0.8)
    finally:
        stopping = True
        await asyncio.gather(*talking)
        await app.close()
    assert handled and failures["StoreUnavailable"]  # traffic, and outages it met
    assert set(failures) == {"StoreUnavailable"}, failures


async def test_a_draft_that_gives_up_on_the_database_tells_the_user_and_is_resumed_later(
    pg: PrivatePostgres,
) -> None:
    # a database down longer than the job retries it (ETP_STORE_RETRY_FOR): the user is told
    # the draft was interrupted, and the section is drafted once the database is back
    settings = settings_for(pg.url)
    override(settings, recovery={"etp_store_retry_for": 1.0, "etp_draft_stale_after": 1.0})
    app = await build_app(settings, drafter=SlowDrafter(1.0), migrate=False)
    try:
        chat = make_chat(app)
        await chat.identify()
        *answers, last = GOOD_ANSWERS[1]
        for answer in answers:
            await chat.say(answer)
        chat.received += await app.service.handle(
            Inbound.from_text(chat.address, chat.author, last)
        )
        assert "Redigindo a minuta da seção 1" in chat.last_text()
        await asyncio.to_thread(pg.stop)  # the draft is written meanwhile, and cannot be stored
        await chat.queue.drain()
        assert "foi interrompida por uma falha temporária" in chat.last_text()
        assert "/refazer" in chat.last_text()
        await asyncio.to_thread(pg.start)
        etp = await load_etp(app, 1)
        assert etp.section(1).status == SectionStatus.DRAFTING  # nothing could say otherwise
        await asyncio.sleep(1.1)  # no sign of life for ETP_DRAFT_STALE_AFTER
        assert await app.service.resume_stalled() == 1
        assert await app.service.resume_stalled() == 0  # taken: not twice
        await chat.queue.drain()
        texts = chat.texts()
        assert "havia sido interrompida e foi retomada" in texts[-2]
        assert "Minuta lenta da seção 1." in texts[-1]
        etp = await load_etp(app, 1)
        assert etp.section(1).status == SectionStatus.DRAFTED
    finally:
        await app.close()
