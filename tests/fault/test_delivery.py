"""Delivery under faults (issue #19, items 3-5): real `etp telegram` and `etp serve` processes
against the local Bot API and Slack doubles, on PostgreSQL; each scenario asserts what the
users see and what the database holds afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from conversations.catalogue import messages as m
from tests.conftest import REDIS_TEST_URL
from tests.fault.conftest import record
from tests.fault.delivery_support import (
    PATIENCE,
    Database,
    EtpProcess,
    Stopwatch,
    etp_env,
    etp_serve,
    telegram_env,
)
from tests.fault.procs import until
from tests.helpers import IDENTIFICATION
from tests.slack_bot import ENCRYPTION_KEY
from tests.slack_fake import BOT_USER as SLACK_BOT
from tests.slack_fake import SIGNING_SECRET, FakeSlackApi, Workspace
from tests.telegram.helpers import SECRET
from tests.telegram_api import FakeBotApi, Updates

CHATS = (7101, 7102, 7103)
ANSWERS = IDENTIFICATION[:5]  # órgão … DFD: five answers a chat, 15 updates in all
FIELDS = ("orgao", "unidade", "municipio", "processo", "dfd")


class Poller:
    """`etp telegram` (long polling) on the scenario's database; restartable."""

    def __init__(self, db_url: str, bot_api: FakeBotApi, workdir: Path) -> None:
        self.env = telegram_env(db_url, bot_api)
        self.api = bot_api
        self.workdir = workdir
        self.runs: list[EtpProcess] = []

    async def start(self) -> EtpProcess:
        fetched = len(self.api.fetches)
        process = await EtpProcess(
            ("telegram",), self.env, self.workdir, f"telegram-{len(self.runs)}"
        ).start()
        self.runs.append(process)
        # polling once the process asked for its commands' menu (it then calls getUpdates)
        menus = len(self.api.sent("setMyCommands"))
        await self.api.wait_for(lambda api: len(api.sent("setMyCommands")) > menus)
        del fetched
        return process

    async def close(self) -> None:
        for process in self.runs:
            await process.stop()


@pytest.fixture
async def poller(pg_url: str, bot_api: FakeBotApi, tmp_path: Path) -> AsyncIterator[Poller]:
    running = Poller(pg_url, bot_api, tmp_path)
    try:
        yield running
    finally:
        await running.close()


async def three_new_etps(poller: Poller, updates: Updates) -> None:
    """Three private chats, each with an ETP at its identification's first question."""
    for chat in CHATS:
        await poller.api.push_update(
            updates.message(f"/novo ETP {chat}", chat_id=chat, user_id=chat)
        )
    await poller.api.wait_for(lambda api: all(api.texts(chat) for chat in CHATS))


def fifteen_answers(updates: Updates) -> list[dict[str, object]]:
    """Five identification answers in each of the three chats, interleaved as they arrive."""
    return [
        updates.message(answer, chat_id=chat, user_id=chat) for answer in ANSWERS for chat in CHATS
    ]


async def assert_each_answer_once(api: FakeBotApi, db: Database) -> None:
    """Every chat saw each next question once, in order; every answer is stored once, in its
    own field."""
    for chat in CHATS:
        texts = api.texts(chat)
        assert texts[0].startswith("ETP nº"), texts  # /novo's, with the first question
        # then the next question once per answer
        expected = [m.IDENT_HEADER.format(label=m.IDENT_FIELDS[i].label) for i in range(1, 6)]
        assert [t.split("\n")[0] for t in texts[1:]] == expected, (chat, texts)
    stored = await db.identifications()
    for chat in CHATS:
        ident = stored[f"ETP {chat}"]
        assert [ident.get(f) for f in FIELDS] == ANSWERS, (chat, ident)
        assert not ident.get("numero"), (chat, ident)  # nothing stored under the next field
    # one claim per update: 3 /novo + 15 answers
    assert await db.value("SELECT count(*) FROM processed_events") == 18


async def polling_crash(poller: Poller, pg_url: str, fault: str) -> None:
    """15 updates fetched in one batch; 0.2 s later the process is killed (`fault` "kill")
    or stopped (SIGTERM); restarted, it must leave each answer taken once."""
    api, updates, db = poller.api, Updates(), Database(pg_url)
    first = await poller.start()
    await three_new_etps(poller, updates)
    # a slow network: a message takes a while to reach Telegram. At the fault, each chat's
    # first answer is committed and its reply on the way (after a kill it never arrives),
    # and the other twelve wait behind them in their chats
    api.delays["sendMessage"] = 2.0 if fault == "kill" else 0.3
    batch = fifteen_answers(updates)
    fetches = len(api.fetches)
    await api.push_updates(batch)
    await api.wait_for(lambda api: len(api.fetches) > fetches)
    assert len(api.fetches[fetches]) == 15  # one batch
    await asyncio.sleep(0.2)
    clock = Stopwatch()
    if fault == "kill":
        await first.kill()
        api.delays["sendMessage"] = 0.3
    else:
        assert await first.terminate() == 0
    await poller.start()
    restarted = Stopwatch()

    async def all_answered() -> bool:
        return all(len(api.texts(chat)) >= 6 for chat in CHATS)

    try:
        await until(all_answered, every=0.02)
    except TimeoutError:
        claims = await db.value("SELECT count(*) FROM processed_events")
        seen = {chat: len(api.texts(chat)) - 1 for chat in CHATS}
        raise AssertionError(
            f"after the restart: {claims - 3} of the 15 answers taken, replies seen by chat "
            f"{seen} (5 each expected)"
        ) from None
    record(f"polling-{fault}", clock.seconds())
    record(f"polling-{fault}-after-restart", restarted.seconds())
    await poller.runs[-1].terminate()
    await assert_each_answer_once(api, db)


async def test_polling_loses_no_update_to_a_kill_9(poller: Poller, pg_url: str) -> None:
    await polling_crash(poller, pg_url, "kill")


async def test_polling_loses_no_update_to_a_sigterm(poller: Poller, pg_url: str) -> None:
    await polling_crash(poller, pg_url, "term")


# --- item 4: a reply lost between the commit and the send ---------------------------------

GROUP = -1007001  # a group: every reply goes through the Bot API, none in the answer


async def post_update(url: str, update: dict[str, object]) -> httpx.Response | None:
    """Telegram posting an update to the webhook; None when the server died meanwhile."""
    try:
        async with httpx.AsyncClient(timeout=PATIENCE) as client:
            return await client.post(
                f"{url}/telegram/webhook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
    except httpx.HTTPError:
        return None


async def serving(env: dict[str, str], workdir: Path, runs: list[EtpProcess]) -> str:
    process, url = await etp_serve(env, workdir, f"serve-{len(runs)}")
    runs.append(process)
    return url


async def test_webhook_reply_lost_to_a_kill_9_after_the_commit_is_sent_on_redelivery(
    pg_url: str, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    api, updates, db = bot_api, Updates(), Database(pg_url)
    env = telegram_env(pg_url, bot_api)
    runs: list[EtpProcess] = []
    try:
        url = await serving(env, tmp_path, runs)
        who = {"chat_id": GROUP, "user_id": 7201}
        assert await post_update(url, updates.message("/novo Papel A4", **who))
        await api.wait_for(lambda api: len(api.texts(GROUP)) == 1)
        # the answer is committed; its reply meets Telegram's flood control, and the process
        # dies while it waits: the reply never left, Telegram never got the webhook's answer
        api.fail_next("sendMessage", retry_after=30)
        answer = updates.message(ANSWERS[0], **who)
        posting = asyncio.create_task(post_update(url, answer))
        await api.wait_for(lambda api: any(c.status == 429 for c in api.calls))
        await until(lambda: claimed(db, 2), every=0.02)
        clock = Stopwatch()
        await runs[-1].kill()
        assert await posting is None
        url = await serving(env, tmp_path, runs)
        restarted = Stopwatch()
        # Telegram delivers the update again
        response = await post_update(url, answer)
        assert response is not None and response.status_code == 200
        await api.wait_for(lambda api: len(api.texts(GROUP)) >= 2)
        record("webhook-kill-after-commit", clock.seconds())
        record("webhook-kill-after-commit-after-restart", restarted.seconds())
        # the user answers the question they now see
        assert await post_update(url, updates.message(ANSWERS[1], **who))
        await api.wait_for(lambda api: len(api.texts(GROUP)) >= 3)
        await runs[-1].terminate()
    finally:
        for process in runs:
            await process.stop()
    texts = [t.split("\n")[0] for t in api.texts(GROUP)]
    assert texts[1:] == [
        m.IDENT_HEADER.format(label=m.IDENT_FIELDS[1].label),
        m.IDENT_HEADER.format(label=m.IDENT_FIELDS[2].label),
    ], api.texts(GROUP)
    ident = (await db.identifications())["Papel A4"]
    assert [ident.get(f) for f in FIELDS[:2]] == ANSWERS[:2]
    assert not ident.get("municipio")


async def claimed(db: Database, n: int) -> bool:
    return bool(await db.value("SELECT count(*) FROM processed_events") >= n)


async def test_webhook_reply_in_an_answer_that_never_reached_telegram_is_sent_again(
    pg_url: str, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    api, updates, db = bot_api, Updates(), Database(pg_url)
    runs: list[EtpProcess] = []
    chat = 7301
    who = {"chat_id": chat, "user_id": chat}
    try:
        url = await serving(telegram_env(pg_url, bot_api), tmp_path, runs)
        first = await post_update(url, updates.message("/novo Papel A4", **who))
        assert first is not None
        await api.webhook_answer(first.json())
        assert len(api.texts(chat)) == 1
        answer = updates.message(ANSWERS[0], **who)
        lost = await post_update(url, answer)
        # the reply rode in the webhook's answer, which never reached Telegram (a network
        # fault): Telegram delivers the update again, a little later
        assert lost is not None and lost.json().get("method") == "sendMessage"
        clock = Stopwatch()
        await asyncio.sleep(2.5)  # Telegram's retry comes after a while, not at once
        again = await post_update(url, answer)
        assert again is not None and again.status_code == 200
        await api.webhook_answer(again.json())
        record("webhook-answer-lost", clock.seconds())
        assert await post_update(url, updates.message(ANSWERS[1], **who))
        await runs[-1].terminate()
    finally:
        for process in runs:
            await process.stop()
    texts = [t.split("\n")[0] for t in api.texts(chat)]
    assert texts[1:] == [m.IDENT_HEADER.format(label=m.IDENT_FIELDS[1].label)], api.texts(chat)
    ident = (await db.identifications())["Papel A4"]
    assert [ident.get(f) for f in FIELDS[:2]] == ANSWERS[:2]


# --- item 5: copies of one Slack event at once ----------------------------------------------


async def test_three_copies_of_a_slack_event_at_once_open_one_thread(
    pg_url: str, tmp_path: Path
) -> None:
    slack, db = FakeSlackApi(), Database(pg_url)
    await slack.start()
    env = etp_env(
        pg_url,
        SLACK_BOT_TOKEN="xoxb-T1",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.url,
        ETP_ENCRYPTION_KEYS=ENCRYPTION_KEY,
        REDIS_URL=REDIS_TEST_URL,
    )
    process, url = await etp_serve(env, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=PATIENCE) as http:
            workspace = Workspace(http, slack)
            event = workspace.message_event("U1", "C1", f"<@{SLACK_BOT}> novo Papel A4")
            event["type"] = "app_mention"
            event_id = f"EvCopies{uuid.uuid4().hex[:8]}"  # Redis keeps what it saw
            # Slack retries a delivery it thinks timed out: three copies arrive together
            answers = await asyncio.gather(
                *(workspace.send_event(event, event_id=event_id, retry=r) for r in (None, 1, 2))
            )
            assert [a.status_code for a in answers] == [200, 200, 200]

            async def opened() -> bool:
                return any("ETP nº 1 criado" in b for m_ in slack.messages for b in [m_.body])

            await until(opened, every=0.02)
        assert await process.terminate() == 0  # its replies all out (the shutdown waits)
    finally:
        await process.stop()
        await slack.stop()
    roots = slack.roots("C1")
    assert len(roots) == 1, [r.body for r in roots]
    created = [b for b in slack.bodies("C1", roots[0].ts) if "ETP nº 1 criado" in b]
    assert len(created) == 1
    rows = await db.rows("SELECT thread_id, etp_id FROM conversations WHERE channel = 'slack'")
    assert [(r["thread_id"], r["etp_id"]) for r in rows] == [(roots[0].ts, 1)]
    assert await db.value("SELECT count(*) FROM etps") == 1
