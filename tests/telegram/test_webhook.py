"""Telegram through the webhook: a whole ETP, documents and drafts on their way, the endpoint's
HTTP answers, the database going down mid-update."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.app import create_api
from conversations.catalogue import messages as m
from conversations.drafting import OfflineDrafter
from tests.conftest import need_service
from tests.helpers import GOOD_ANSWERS, IDENTIFICATION, SlowDrafter, count, make_app, override
from tests.telegram.helpers import SECRET, Webhook, configure, open_webhook
from tests.telegram_api import FakeBotApi, Updates

# --- a whole ETP ---------------------------------------------------------------------------


async def test_whole_etp_through_the_webhook_ends_with_the_document(hook: Webhook) -> None:
    replies: list[httpx.Response] = []  # answers to typed messages and presses, but /exportar's

    async def say(words: str) -> None:
        replies.append(await hook.say(words))

    async def press(label: str) -> None:
        replies.append(await hook.press(label))

    await say("/start")
    assert hook.api.texts()[-1].startswith("Olá, Maria Silva!")
    await say("/novo Aquisição de papel A4")
    for line in IDENTIFICATION:
        if line == "/aceitar":
            await press(m.BTN_TEAM_DONE)
        else:
            await say(line)
    for number in range(1, 14):
        if number == 11:
            await press(m.BTN_SKIP)
            await say("Não há contratações correlatas nem interdependentes.")
            continue
        for answer in GOOD_ANSWERS[number]:
            await say(answer)
        # the offline drafter answers the last answer with the draft and its keyboard
        draft = hook.api.last_with_buttons(5001)
        # (section VI's draft follows the confirmation of the research's last choice)
        assert f"Seção {number} de 13 · " in draft.text and "Minuta:" in draft.text
        assert [label for label, _ in draft.buttons][:3] == [m.BTN_ACCEPT, m.BTN_EDIT, m.BTN_REDO]
        await press(m.BTN_ACCEPT)
    assert any("ETP nº 1 concluído" in t for t in hook.api.texts())
    await hook.say("/exportar md")

    documents = hook.api.sent("sendDocument", 5001)
    assert len(documents) == 1
    filename, content = documents[0].files["document"]
    assert filename == "ETP-1.md"
    assert documents[0].params["caption"].startswith("Documento do ETP nº 1 (MD)")
    body = content.decode()
    assert "MINUTA" not in body
    assert "**Processo:** nº 23000.001234/2026-11" in body
    assert "= valor total estimado de R$ 30.240,00" in body  # section VI's computed figures
    for number, answers in GOOD_ANSWERS.items():
        if number not in (6, 11):  # VI: price lines and choices, not sentences
            for answer in answers[1:] if number == 13 else answers:  # XIII's first: the choice
                # after its label, the answer's first letter is lower case
                assert answer.rstrip(".")[1:] in body, (number, answer)
    assert "Não há contratações correlatas nem interdependentes." in body
    # every reply's message came back in its webhook answer (Telegram sent it), a press's
    # included; each press was acknowledged through the Bot API instead, once
    assert all(r.json()["method"] == "sendMessage" for r in replies), [r.json() for r in replies]
    messages = hook.api.sent("sendMessage", 5001)
    assert sum(c.in_answer for c in messages) == len(replies)
    acks = hook.api.sent("answerCallbackQuery")
    assert len(acks) == 14 and not any(c.in_answer for c in acks)
    assert len({c.params["callback_query_id"] for c in acks}) == 14
    assert not hook.api.sent("sendChatAction")  # no draft was slow enough to show "typing"


async def test_a_document_leaves_after_the_answer_and_before_the_next_reply(
    hook: Webhook,
) -> None:
    await hook.say("/novo Papel A4")
    hook.api.delays["sendDocument"] = 0.5  # a slow upload
    update = json.dumps(hook.updates.message("/exportar md"))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    response = await hook.client.post("/telegram/webhook", content=update, headers=headers)
    # committed and answered while the upload is still on its way to Telegram
    assert response.json() == {"ok": True}
    assert not hook.api.sent("sendDocument")
    await hook.say("/status")  # the next reply waits for the document, then comes after it
    calls = [c for c in hook.api.calls if c.method in ("sendDocument", "sendMessage")]
    assert [c.method for c in calls[-2:]] == ["sendDocument", "sendMessage"]
    assert calls[-2].files["document"][0] == "ETP-1.md"
    assert "ETP nº 1" in calls[-1].text


async def test_a_document_telegram_refuses_leaves_the_chat_usable(
    hook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    await hook.say("/novo Papel A4")
    hook.api.fail_next("sendDocument", retry_after=3600)  # longer than the bot waits: refused
    assert (await hook.say("/exportar md")).json() == {"ok": True}
    assert not hook.api.sent("sendDocument")
    assert any("Telegram refused a reply" in r.getMessage() for r in caplog.records)
    # the chat's order went back with the failed upload: its next reply arrives
    async with asyncio.timeout(60):  # a safety bound: a lock never released would hang here
        await hook.say("/status")
    assert "ETP nº 1" in hook.api.texts(5001)[-1]


async def test_a_job_draft_shows_typing_then_arrives_through_the_notifier(
    db_url: str, bot_api: FakeBotApi
) -> None:
    app = await make_app(db_url, drafter=OfflineDrafter(inline=False))  # drafts as an LLM would
    configure(app, bot_api)
    hook, client = await open_webhook(app, bot_api)
    try:
        await hook.new_etp("Aquisição de papel A4")
        *first, last = GOOD_ANSWERS[1]
        for answer in first:
            await hook.say(answer)
        # "typing" takes a while to reach Telegram, and the draft is ready at once
        bot_api.delays["sendChatAction"] = 0.3
        await hook.post(hook.updates.message(last), slow_telegram=True)
        texts = hook.api.texts(5001)
        assert "Redigindo a minuta da seção 1 — " in texts[-2]
        assert [c.params["action"] for c in hook.api.sent("sendChatAction", 5001)] == ["typing"]
        draft = hook.api.last_with_buttons(5001)  # the late reply, sent by the Notifier
        assert draft.text == texts[-1] and "Minuta:" in draft.text
        # "typing" showed before the draft arrived, not after it
        calls = [c for c in hook.api.calls if c.method in ("sendChatAction", "sendMessage")]
        assert calls.index(hook.api.sent("sendChatAction", 5001)[0]) < calls.index(draft)
        await hook.press(m.BTN_ACCEPT)
        assert "Seção 2 de 13" in hook.api.texts(5001)[-1]
    finally:
        await client.aclose()
        await app.close()


async def test_typing_shows_for_as_long_as_a_slow_draft_is_written(
    sqlite_url: str, bot_api: FakeBotApi
) -> None:
    app = await make_app(sqlite_url, drafter=SlowDrafter(0.5))
    app.service.still_drafting_every = 0.1  # Telegram shows "typing" for 5 s; every 4 s in service
    configure(app, bot_api)
    hook, client = await open_webhook(app, bot_api)
    try:
        await hook.new_etp("Aquisição de papel A4")
        for answer in GOOD_ANSWERS[1]:
            await hook.say(answer)
        typing = hook.api.sent("sendChatAction", 5001)
        assert len(typing) >= 4  # at the start, then again and again while it was written
        assert {c.params["action"] for c in typing} == {"typing"}
        draft = hook.api.last_with_buttons(5001)
        assert "Minuta lenta da seção 1." in draft.text
        assert max(hook.api.calls.index(c) for c in typing) < hook.api.calls.index(draft)
    finally:
        await client.aclose()
        await app.close()


# --- the webhook as an HTTP endpoint -------------------------------------------------------


async def test_wrong_or_missing_secret_is_401_and_does_nothing(hook: Webhook) -> None:
    for secret in ("wrong", None):
        response = await hook.post(hook.updates.message("/start"), secret=secret)
        assert response.status_code == 401
        assert response.json()["ok"] is False
    assert hook.api.sent() == []
    assert await count(hook.app, "processed_events") == 0


async def test_an_oversized_body_is_413_even_without_a_declared_length(hook: Webhook) -> None:
    async def chunked(body: bytes) -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    huge = json.dumps(hook.updates.message("x" * 2_000_000)).encode()
    response = await hook.client.post("/telegram/webhook", content=chunked(huge), headers=headers)
    assert response.status_code == 413
    assert await count(hook.app, "processed_events") == 0
    update = json.dumps(hook.updates.message("/novo Papel A4")).encode()
    response = await hook.client.post("/telegram/webhook", content=chunked(update), headers=headers)
    assert response.status_code == 200  # a chunked body under the limit reaches the route whole
    await hook.api.webhook_answer(response.json())
    assert hook.api.texts(5001)[0].startswith("ETP nº 1 criado: Papel A4.")


async def test_without_a_secret_the_webhook_is_not_served_and_that_is_logged_at_start(
    sqlite_url: str, bot_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    # an update forged "from" an allowed user would otherwise get that user's /status
    app = await make_app(sqlite_url)
    configure(app, bot_api, allowed=frozenset({777}))
    override(app.settings, telegram={"telegram_webhook_secret": None})
    try:
        with caplog.at_level(logging.WARNING, logger="api.app"):
            api = create_api(app)
        assert "TELEGRAM_WEBHOOK_SECRET is not set" in caplog.text
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://etp"
        ) as client:
            forged = Updates().message("/novo Papel", chat_id=777, user_id=777)
            response = await client.post("/telegram/webhook", json=forged)
            assert response.status_code == 404
            assert "/telegram/webhook" not in (await client.get("/openapi.json")).text
        assert await count(app, "etps") == 0
        assert bot_api.sent() == []
    finally:
        await app.close()


async def test_the_development_opt_out_serves_an_open_webhook_and_says_so_loudly(
    sqlite_url: str, bot_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    app = await make_app(sqlite_url)
    configure(app, bot_api)
    override(
        app.settings,
        telegram={"telegram_webhook_secret": None, "etp_insecure_telegram_webhook": True},
    )
    try:
        with caplog.at_level(logging.WARNING, logger="api.app"):
            webhook, client = await open_webhook(app, bot_api)
        loud = [r for r in caplog.records if r.levelno >= logging.CRITICAL]
        assert loud and "ETP_INSECURE_TELEGRAM_WEBHOOK" in loud[0].getMessage()
        response = await webhook.post(webhook.updates.message("/novo Papel"), secret=None)
        assert response.status_code == 200
        assert webhook.api.texts(5001)[0].startswith("ETP nº 1 criado: Papel.")
        await client.aclose()
    finally:
        await app.close()


async def test_the_same_update_twice_takes_effect_once(hook: Webhook) -> None:
    await hook.say("/novo Papel")
    update = hook.updates.message(IDENTIFICATION[0])
    first = await hook.post(update)
    sent_after_first = len(hook.api.sent())
    again = await hook.post(update)
    assert first.status_code == again.status_code == 200
    assert len(hook.api.sent()) == sent_after_first  # no second answer
    async with hook.app.engine.connect() as conn:
        audits = (
            await conn.execute(
                text("SELECT count(*) FROM audit_events WHERE action = 'ident.answered'")
            )
        ).scalar_one()
    assert audits == 1


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[" * 100_000,
        b"",
        b"[1, 2, 3]",
        b'"a string"',
        b'{"update_id": "seven"}',
        b'{"message": {"text": "no update id"}}',
        b'{"update_id": 7, "message": {"chat": "not a chat"}}',
        b'{"update_id": 8, "message": "\xff\xfe"}',
    ],
)
async def test_garbage_is_a_4xx_json_error_and_the_bot_keeps_working(
    hook: Webhook, body: bytes
) -> None:
    response = await hook.post(body)
    assert 400 <= response.status_code < 500
    assert response.json()["ok"] is False
    await hook.say("/start")
    assert hook.api.texts()[-1].startswith("Olá")


async def test_unknown_update_kinds_are_acknowledged_without_effect(hook: Webhook) -> None:
    response = await hook.post({"update_id": 99, "some_future_kind": {"x": 1}})
    assert response.status_code == 200
    assert hook.api.sent() == []


# --- the database blinks -------------------------------------------------------------------


class TcpProxy:
    """A TCP relay to PostgreSQL that the test can take down and bring back on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def test_database_down_answers_503_and_the_redelivered_update_succeeds(
    pg_url: str, bot_api: FakeBotApi
) -> None:
    url = make_url(pg_url)
    need_service("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = await make_app(via_proxy)
    configure(app, bot_api)
    webhook, client = await open_webhook(app, bot_api)
    try:
        await webhook.say("/novo Papel")
        sent_before = len(bot_api.sent())
        update = webhook.updates.message(IDENTIFICATION[0])

        await proxy.stop()
        down = await webhook.post(update)
        assert down.status_code == 503
        assert down.json()["ok"] is False
        assert len(bot_api.sent()) == sent_before  # nothing was said: nothing was done

        await proxy.start()
        again = await webhook.post(update)  # Telegram delivers it again
        assert again.status_code == 200
        assert bot_api.texts()[-1].startswith("Identificação · Unidade requisitante")
        async with app.engine.connect() as conn:
            ident = (await conn.execute(text("SELECT identification FROM etps"))).scalar_one()
        assert "Ministério da Gestão e da Inovação" in json.dumps(ident, ensure_ascii=False)
        assert await count(app, "processed_events") == 2
    finally:
        await client.aclose()
        await app.close()
        await proxy.stop()
