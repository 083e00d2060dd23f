"""The Telegram channel end to end: webhook and polling, the real aiogram Bot talking over real
HTTP to a local Bot API server (tests/telegram_api.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.app import create_api
from bot.telegram import TelegramBot, build_telegram
from bot.telegram.render import MAX_MESSAGE, coalesce, split_text
from conversations.catalogue import messages as m
from conversations.commands import help_text, menu
from conversations.drafting import OfflineDrafter
from conversations.export import FORMATS
from conversations.replies import Button, Document, DraftingStarted, Text
from etp.container import App
from etp.settings import AccessSettings, TelegramSettings
from tests.conftest import need_service
from tests.helpers import (
    GOOD_ANSWERS,
    IDENTIFICATION,
    SlowDrafter,
    count,
    make_app,
    override,
    wait_until_stopped,
)
from tests.telegram_api import TOKEN, FakeBotApi, Updates

SECRET = "hook-secret-4f1c2a"
ETP_BIN = Path(sys.executable).with_name("etp")


@pytest.fixture(autouse=True)
def no_reply_failed_unnoticed(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A reply sent after the webhook's answer that fails unexpectedly is only logged: make
    that fail the test instead."""
    yield
    failed = [r for r in caplog.records if r.name == "bot.telegram.channel" and r.levelno >= 40]
    assert not failed, [r.getMessage() for r in failed]


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


def configure(app: App, bot_api: FakeBotApi, *, allowed: frozenset[int] = frozenset()) -> None:
    override(
        app.settings,
        telegram=TelegramSettings(
            telegram_bot_token=TOKEN,
            telegram_api_url=bot_api.url,
            telegram_webhook_secret=SECRET,
            telegram_chat_rate=1000.0,  # pacing is not what these tests are about
            telegram_bot_rate=1000.0,
        ),
        access=AccessSettings(etp_allowed_telegram_ids=allowed),
    )


@dataclass
class Webhook:
    """Telegram's side of the webhook: posts updates to POST /telegram/webhook."""

    app: App
    client: httpx.AsyncClient
    api: FakeBotApi
    updates: Updates
    telegram: TelegramBot

    async def post(
        self, update: Any, *, secret: str | None = SECRET, slow_telegram: bool = False
    ) -> httpx.Response:
        """Post an update; `slow_telegram`: the answer's call is made only after background
        drafts finished (Telegram acts on an answer a network round trip later)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        body = update if isinstance(update, (bytes, str)) else json.dumps(update)
        response = await self.client.post("/telegram/webhook", content=body, headers=headers)
        if slow_telegram:
            await self.app.queue.drain()
        if response.status_code == 200:
            await self.api.webhook_answer(response.json())  # as Telegram would
        await self.telegram.channel.drain()  # a press's acknowledgement, when not in the answer
        await self.app.queue.drain()  # finished drafts reach the chat through the Notifier
        return response

    async def say(self, words: str, **who: Any) -> httpx.Response:
        response = await self.post(self.updates.message(words, **who))
        assert response.status_code == 200, response.text
        return response

    async def new_etp(self, title: str, **who: Any) -> None:
        """`/novo title`, then its identification answered whole (the team closed)."""
        await self.say(f"/novo {title}", **who)
        for line in IDENTIFICATION:
            await self.say(line, **who)

    async def press(self, label: str, *, chat_id: int = 5001, **who: Any) -> httpx.Response:
        """Press the button called `label` on the latest keyboard in that chat."""
        buttons = dict(self.api.last_with_buttons(chat_id).buttons)
        assert label in buttons, (label, buttons)
        response = await self.post(self.updates.press(buttons[label], chat_id=chat_id, **who))
        assert response.status_code == 200, response.text
        return response


async def open_webhook(app: App, bot_api: FakeBotApi) -> tuple[Webhook, httpx.AsyncClient]:
    api = create_api(app)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://etp")
    return Webhook(app, client, bot_api, Updates(), api.state.telegram), client


@pytest.fixture
async def hook(db_url: str, bot_api: FakeBotApi) -> AsyncIterator[Webhook]:
    app = await make_app(db_url)
    configure(app, bot_api)
    webhook, client = await open_webhook(app, bot_api)
    try:
        yield webhook
    finally:
        await client.aclose()
        await app.close()


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
        assert draft.text.startswith(f"Seção {number} de 13") and "Minuta:" in draft.text
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
    assert "**Processo nº:** 23000.001234/2026-11" in body
    for number, answers in GOOD_ANSWERS.items():
        if number != 11:
            for answer in answers:
                assert answer.rstrip(".") in body, (number, answer)
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
        assert "Redigindo a minuta da seção I" in texts[-2]
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


@asynccontextmanager
async def polling_bot(db_url: str, bot_api: FakeBotApi) -> AsyncIterator[tuple[App, Updates]]:
    """A bot polling the Bot API double for the block; then stopped, and its App closed (which
    waits for the replies still leaving before it closes the Bot API session)."""
    app = await make_app(db_url)
    configure(app, bot_api)
    telegram = build_telegram(app)
    polling = asyncio.create_task(telegram.run_polling(handle_signals=False))
    try:
        yield app, Updates()
    finally:
        await telegram.stop_polling()
        await polling
        await app.close()


async def test_polling_delivers_a_document_still_on_its_way_when_it_stops(
    db_url: str, bot_api: FakeBotApi
) -> None:
    async with polling_bot(db_url, bot_api) as (app, updates):
        await bot_api.push_update(updates.message("/novo Papel A4"))
        await bot_api.wait_for(lambda api: len(api.texts()) >= 1)
        bot_api.delays["sendDocument"] = 0.5  # a slow upload
        await bot_api.push_update(updates.message("/exportar md"))
        async with asyncio.timeout(30):  # until the export is committed
            while await count(app, "processed_events") < 2:  # noqa: ASYNC110 (a database row)
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # its handler has returned; the upload is on its way
    # stopped: the upload was waited for before the Bot API session closed
    assert [c.files["document"][0] for c in bot_api.sent("sendDocument")] == ["ETP-1.md"]


async def test_polling_reaches_a_document(db_url: str, bot_api: FakeBotApi) -> None:
    async with polling_bot(db_url, bot_api) as (_, updates):
        await bot_api.push_update(updates.message("/start"))
        await bot_api.push_update(updates.message("/novo Papel A4"))
        await bot_api.push_update(updates.message(IDENTIFICATION[0]))
        await bot_api.wait_for(lambda api: len(api.texts()) >= 3)
        # a press with a text reply: aiogram sends the message the handler returns, and the
        # acknowledgement leaves on its own
        await bot_api.push_update(updates.press("/status"))
        await bot_api.wait_for(
            lambda api: len(api.texts()) >= 4 and len(api.sent("answerCallbackQuery")) == 1
        )
        assert "ETP nº 1" in bot_api.texts()[3]
        await bot_api.push_update(updates.press("/exportar md"))
        await bot_api.wait_for(
            lambda api: bool(api.sent("sendDocument") and len(api.sent("answerCallbackQuery")) == 2)
        )
    texts = bot_api.texts()
    assert texts[0].startswith("Olá, Maria Silva!")
    # the confirmation and the first question arrive as one message (coalesced)
    assert texts[1].startswith(
        "ETP nº 1 criado: Papel A4. Primeiro, a identificação.\n\nIdentificação · Órgão/entidade"
    )
    assert texts[2].startswith("Identificação · Unidade requisitante")
    body = bot_api.sent("sendDocument")[0].files["document"][1].decode()
    assert "Ministério da Gestão e da Inovação" in body and "MINUTA — incompleta" in body
    commands = bot_api.sent("setMyCommands")[0].params["commands"]
    assert [c["command"] for c in commands][:3] == ["novo", "listar", "retomar"]
    assert bot_api.sent("deleteWebhook")


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
    app.settings.telegram.__dict__["telegram_webhook_secret"] = None
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


# a group: its replies all go through the Bot API, where flood control is handled
TEAM = {"chat_id": -1005001, "user_id": 5001}


async def at_the_team_question(hook: Webhook) -> None:
    """A new ETP's identification answered in a group up to the button that closes the team."""
    await hook.say("/novo Papel", **TEAM)
    for line in IDENTIFICATION[: IDENTIFICATION.index("/aceitar")]:
        await hook.say(line, **TEAM)


async def test_bot_api_429_is_waited_out_and_the_message_delivered_once(hook: Webhook) -> None:
    await at_the_team_question(hook)
    before = len(hook.api.calls)
    hook.api.fail_next("sendMessage", retry_after=1)
    await hook.press(m.BTN_TEAM_DONE, **TEAM)
    attempts = [c for c in hook.api.calls[before:] if c.method == "sendMessage"]
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.9  # retry_after was waited out
    assert hook.api.texts().count(attempts[1].text) == 1  # delivered once, not twice
    assert "Portaria" in attempts[1].text  # the next question of the identification


async def test_a_telegram_server_error_is_retried_and_the_message_delivered_once(
    hook: Webhook,
) -> None:
    await at_the_team_question(hook)
    before = len(hook.api.calls)
    hook.api.fail_next("sendMessage", status=502)
    await hook.press(m.BTN_TEAM_DONE, **TEAM)
    attempts = [c for c in hook.api.calls[before:] if c.method == "sendMessage"]
    assert [c.status for c in attempts] == [502, 200]
    assert "Portaria" in attempts[1].text


async def long_draft_ahead(hook: Webhook) -> None:
    """A private chat where the next answer brings a draft too long for one message."""
    await hook.new_etp("Papel")
    for i in (1, 2):
        await hook.say(f"Parágrafo longo da necessidade número {i}. " * 60)


async def test_a_message_telegram_refuses_does_not_hold_back_the_rest(hook: Webhook) -> None:
    await long_draft_ahead(hook)
    hook.api.fail_next("sendMessage", status=400)  # the draft's first part
    await hook.say("Parágrafo longo da necessidade número 3. " * 60)
    assert "Minuta:" not in " ".join(hook.api.texts())  # that part was lost
    last = hook.api.last_with_buttons(5001)  # the rest arrived: the last part, with its buttons
    assert "necessidade número 3" in last.text
    assert m.BTN_ACCEPT in dict(last.buttons)


async def test_a_chat_that_blocked_the_bot_gets_nothing_more_of_the_reply(hook: Webhook) -> None:
    await long_draft_ahead(hook)
    before = len(hook.api.calls)
    hook.api.fail_next("sendMessage", status=403)
    response = await hook.say("Parágrafo longo da necessidade número 3. " * 60)
    assert response.json() == {"ok": True}  # nothing left for the answer to carry
    assert [c.status for c in hook.api.calls[before:]] == [403]


async def test_endless_flood_control_gives_up_after_four_attempts(hook: Webhook) -> None:
    await at_the_team_question(hook)
    before = len(hook.api.calls)
    for _ in range(6):
        hook.api.fail_next("sendMessage", retry_after=1)
    buttons = dict(hook.api.last_with_buttons(TEAM["chat_id"]).buttons)
    response = await hook.post(hook.updates.press(buttons[m.BTN_TEAM_DONE], **TEAM))
    assert response.status_code == 200  # the update took effect; only its reply was refused
    attempts = [c.status for c in hook.api.calls[before:] if c.method == "sendMessage"]
    assert attempts == [429, 429, 429, 429]


async def test_typed_answers_are_answered_in_the_webhook_reply_within_the_chat_pace(
    db_url: str, bot_api: FakeBotApi
) -> None:
    app = await make_app(db_url)
    configure(app, bot_api)
    override(app.settings, telegram={"telegram_chat_rate": 1.0})  # bursts of 3, then 1 a second
    hook, client = await open_webhook(app, bot_api)
    try:
        answers = [(await hook.say(w)).json() for w in ("/start", "/ajuda", "/listar")]
        # the first three replies leave in the webhook's answer, exactly as Telegram takes a
        # call there: the method, and aiogram's values (objects as JSON text)
        assert answers[1] == {
            "method": "sendMessage",
            "chat_id": "5001",
            "text": help_text("|".join(FORMATS)),
        }
        assert [a["method"] for a in answers] == ["sendMessage"] * 3
        # the fourth would exceed the chat's pace: it waited for it and went through the Bot
        # API, where a 429 is waited out, not into an answer whose fate nobody learns
        bot_api.fail_next("sendMessage", retry_after=1)
        assert (await hook.say("/ajuda")).json() == {"ok": True}
        sent = [c for c in hook.api.calls if c.method == "sendMessage"]
        assert [(c.in_answer, c.status) for c in sent] == [
            (True, 200),
            (True, 200),
            (True, 200),
            (False, 429),
            (False, 200),
        ]
        assert sent[3].at - sent[0].at >= 0.5  # it waited for the pace (a second at 1/s)
        assert sent[4].text == sent[1].text
    finally:
        await client.aclose()
        await app.close()


async def test_a_keyboard_in_a_webhook_answer_is_the_json_telegram_reads(hook: Webhook) -> None:
    await hook.say("/novo Papel")
    team = IDENTIFICATION.index("/aceitar")
    for line in IDENTIFICATION[: team - 1]:
        await hook.say(line)
    # the team member's reply asks for more, with the button that closes the team
    answer = (await hook.say(IDENTIFICATION[team - 1])).json()
    assert set(answer) == {"method", "chat_id", "text", "reply_markup"}
    markup = json.loads(answer["reply_markup"])  # JSON text, as aiogram sends objects
    assert all(
        set(button) == {"text", "callback_data"}
        for row in markup["inline_keyboard"]
        for button in row
    )
    # and Telegram (the double) showed the keyboard
    assert m.BTN_TEAM_DONE in dict(hook.api.sent()[-1].buttons)


async def test_the_bot_wide_pace_sends_the_rest_through_the_bot_api(
    db_url: str, bot_api: FakeBotApi
) -> None:
    app = await make_app(db_url)
    configure(app, bot_api)
    override(app.settings, telegram={"telegram_bot_rate": 2.0})  # two a second for all chats
    hook, client = await open_webhook(app, bot_api)
    try:
        answers = [
            (await hook.say("/ajuda", chat_id=chat, user_id=chat)).json()
            for chat in (7001, 7002, 7003)
        ]
        assert [a.get("method") for a in answers] == ["sendMessage", "sendMessage", None]
        third = hook.api.sent("sendMessage", 7003)
        assert len(third) == 1 and not third[0].in_answer
    finally:
        await client.aclose()
        await app.close()


async def test_no_reply_goes_in_an_answer_while_telegram_asks_to_wait(
    hook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    await at_the_team_question(hook)
    hook.api.fail_next("sendMessage", retry_after=1)
    # a press in one chat: its reply meets a 429, and the bot waits the second out
    press = asyncio.create_task(hook.press(m.BTN_TEAM_DONE, **TEAM))
    async with asyncio.timeout(30):  # until the bot has taken the 429 in (it logs the wait)
        while not any("flood control" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    # meanwhile another chat types: during a flood wait an answer's call could be refused
    # with nobody to retry it, so its reply goes through the Bot API (and waits too)
    answer = (await hook.say("/ajuda", chat_id=6001, user_id=6001)).json()
    await press
    assert answer == {"ok": True}
    assert [c.in_answer for c in hook.api.sent("sendMessage", 6001)] == [False]


async def test_a_slow_update_sends_its_reply_through_the_bot_api(hook: Webhook) -> None:
    # past the deadline Telegram may have given up on the answer and delivered the update
    # again (a duplicate, answered with nothing): the reply must not depend on that answer
    hook.telegram.answer_deadline = 0.0
    assert (await hook.say("/ajuda")).json() == {"ok": True}
    assert [c.in_answer for c in hook.api.sent("sendMessage", 5001)] == [False]


async def test_a_reply_longer_than_telegram_allows_is_split_at_paragraphs(hook: Webhook) -> None:
    await hook.new_etp("Papel")
    long_answers = [f"Parágrafo longo da necessidade número {i}. " * 60 for i in range(1, 4)]
    for answer in long_answers:
        await hook.say(answer)
    parts = [t for t in hook.api.texts() if "Parágrafo longo" in t]
    assert len(parts) >= 2
    assert all(len(p) <= MAX_MESSAGE for p in parts)
    draft_messages = hook.api.sent()[-len(parts) :]
    assert [bool(c.buttons) for c in draft_messages] == [False] * (len(parts) - 1) + [True]
    joined = "\n\n".join(parts)
    for answer in long_answers:
        assert answer.strip() in joined


def test_button_less_texts_join_the_message_that_follows() -> None:
    replies = [
        Text("Seção I aceita."),
        Text("Seção 2 de 13 · Pergunta", (Button("Pular", "/pular"),)),
        Text("Outra"),
        DraftingStarted("job", "Redigindo…"),
        Document("ETP-1.md", b"x", "text/markdown"),
    ]
    merged = coalesce(replies)
    assert merged == [
        Text("Seção I aceita.\n\nSeção 2 de 13 · Pergunta", (Button("Pular", "/pular"),)),
        DraftingStarted("job", "Outra\n\nRedigindo…"),
        Document("ETP-1.md", b"x", "text/markdown"),
    ]


def test_split_text_keeps_paragraphs_whole_when_it_can() -> None:
    paragraphs = [f"{i}" * 1500 for i in range(1, 7)]
    chunks = split_text("\n\n".join(paragraphs))
    assert all(len(c) <= MAX_MESSAGE for c in chunks)
    assert "\n\n".join(chunks) == "\n\n".join(paragraphs)
    assert all(p in c for p in paragraphs for c in chunks if p[0] in c)
    single = "x" * 10_000
    assert "".join(split_text(single)) == single


async def test_group_chat_shares_one_etp_and_attributes_each_answer(hook: Webhook) -> None:
    group = -1001234
    ana = {"chat_id": group, "user_id": 11, "first_name": "Ana", "last_name": "Souza"}
    bruno = {"chat_id": group, "user_id": 22, "first_name": "Bruno", "last_name": None}
    await hook.new_etp("Papel A4", **ana)
    await hook.say(GOOD_ANSWERS[1][0], **ana)
    await hook.say(GOOD_ANSWERS[1][1], **bruno)
    await hook.say(GOOD_ANSWERS[1][2], **ana)
    await hook.press(m.BTN_ACCEPT, **bruno)
    await hook.say("/status@etp_bot", **bruno)
    assert (
        "I. Descrição da necessidade (obrigatória) — aceita · por Ana Souza, Bruno"
        in (hook.api.texts(group)[-1])
    )
    await hook.say("/listar", **bruno)
    assert "nº 1 — Papel A4" in hook.api.texts(group)[-1]
    assert all(c.chat_id == str(group) for c in hook.api.sent())
    # a group's replies all go through the Bot API (Telegram limits groups further, and only
    # there is a 429 waited out), never in a webhook's answer, which acknowledges a press
    assert not any(c.in_answer for c in hook.api.sent("sendMessage"))
    assert [c.in_answer for c in hook.api.sent("answerCallbackQuery")] == [True]


async def test_a_press_on_an_older_draft_s_button_accepts_nothing(hook: Webhook) -> None:
    await hook.new_etp("Papel A4")
    for answer in GOOD_ANSWERS[1]:
        await hook.say(answer)
    old = dict(hook.api.last_with_buttons(5001).buttons)[m.BTN_ACCEPT]
    await hook.press(m.BTN_ACCEPT)
    for answer in GOOD_ANSWERS[2]:
        await hook.say(answer)
    assert (await hook.post(hook.updates.press(old))).status_code == 200
    assert hook.api.texts(5001)[-1] == m.BUTTON_STALE
    await hook.press(m.BTN_ACCEPT)  # the button of the draft now current
    assert "Seção II aceita." in hook.api.texts(5001)[-1]


async def test_a_command_for_another_bot_of_the_group_is_left_to_it(hook: Webhook) -> None:
    group = -100555
    ana = {"chat_id": group, "user_id": 11, "first_name": "Ana"}
    await hook.say("/novo Papel A4", **ana)
    sent = len(hook.api.sent())
    await hook.say("/cancelar@OutroBot", **ana)
    await hook.say("/start@OutroBot", **ana)
    assert len(hook.api.sent()) == sent
    await hook.say("/status@ETP_bot", **ana)  # ours (getMe), whatever the case
    assert "Papel A4" in hook.api.texts(group)[-1]


async def test_a_command_with_its_text_on_the_next_line_is_a_command(hook: Webhook) -> None:
    await hook.say("/novo\nAquisição de papel A4")
    created = hook.api.texts(5001)[0]
    assert created.startswith("ETP nº 1 criado: Aquisição de papel A4."), created


async def test_a_photo_or_an_edit_in_a_private_chat_is_answered_and_changes_nothing(
    hook: Webhook,
) -> None:
    await hook.say("/novo Papel A4")
    question = hook.api.texts(5001)[-1]
    events = await count(hook.app, "audit_events")
    photo = [{"file_id": "f1", "file_unique_id": "u1", "width": 90, "height": 90}]
    assert (await hook.post(hook.updates.message(None, photo=photo))).status_code == 200
    assert hook.api.texts(5001)[-1] == m.TEXT_ONLY
    edit = hook.updates.message("Ministério da Economia", edit_date=1)
    edit["edited_message"] = edit.pop("message")
    assert (await hook.post(edit)).status_code == 200
    assert hook.api.texts(5001)[-1] == m.EDIT_NOT_APPLIED
    assert await count(hook.app, "audit_events") == events
    await hook.say("Ministério da Gestão e da Inovação")  # the question still waits for it
    assert hook.api.texts(5001)[-1] != question
    # in a group, people share photos among themselves: the bot says nothing
    group = -100666
    await hook.post(hook.updates.message(None, chat_id=group, user_id=11, photo=photo))
    assert hook.api.texts(group) == []


async def test_anonymous_administrators_write_for_their_own_group_only(hook: Webhook) -> None:
    # Telegram puts one stand-in account (GroupAnonymousBot) in "from" for the anonymous
    # administrators of every group; the group they write for is the author
    stand_in = {"user_id": 1087968824, "first_name": "Group", "last_name": None}
    group_a, group_b = -100111, -100222

    def on_behalf_of(group: int, title: str) -> dict[str, Any]:
        chat = {"id": group, "type": "supergroup", "title": title}
        return {"chat_id": group, "sender_chat": chat, **stand_in}

    await hook.say("/novo Papel A4", **on_behalf_of(group_a, "Compras A"))
    assert "ETP nº 1 criado" in hook.api.texts(group_a)[-1]
    await hook.say("/listar", **on_behalf_of(group_b, "Compras B"))
    assert hook.api.texts(group_b)[-1] == m.LIST_EMPTY
    await hook.say("/retomar 1", **on_behalf_of(group_b, "Compras B"))
    assert hook.api.texts(group_b)[-1] == m.RESUME_NOT_FOUND.format(id=1)
    async with hook.app.engine.connect() as conn:
        people = (await conn.execute(text("SELECT external_id, display_name FROM people"))).all()
    assert set(people) == {(str(group_a), "Compras A"), (str(group_b), "Compras B")}


async def test_a_channel_post_forwarded_into_its_discussion_group_is_not_an_answer(
    hook: Webhook,
) -> None:
    group = -100333
    await hook.say("/novo Papel A4", chat_id=group, user_id=11, first_name="Ana")
    question = hook.api.texts(group)[-1]
    sent, events = len(hook.api.sent()), await count(hook.app, "audit_events")
    channel = {"id": -100444, "type": "channel", "title": "Notícias"}
    forward = {"sender_chat": channel, "is_automatic_forward": True}
    post = hook.updates.message(
        "Edital publicado.", chat_id=group, user_id=777000, first_name="Telegram", **forward
    )
    assert (await hook.post(post)).status_code == 200
    assert len(hook.api.sent()) == sent
    assert await count(hook.app, "audit_events") == events
    await hook.say("Ministério da Gestão e da Inovação", chat_id=group, user_id=11)
    assert hook.api.texts(group)[-1] != question  # the real answer still answers the question


async def test_a_group_that_becomes_a_supergroup_keeps_its_etp(
    sqlite_url: str, bot_api: FakeBotApi
) -> None:
    # Telegram gives the supergroup a new id and says so in both chats; the ETP, its place in
    # the questions and the group's admission (listed by id) continue there
    old, new = -4001, -1009001
    app = await make_app(sqlite_url)
    configure(app, bot_api, allowed=frozenset({old}))
    hook, client = await open_webhook(app, bot_api)
    try:
        ana = {"user_id": 11, "first_name": "Ana", "last_name": "Souza", "chat_type": "group"}
        await hook.say("/novo Papel A4", chat_id=old, **ana)
        await hook.say(IDENTIFICATION[0], chat_id=old, **ana)
        question = hook.api.texts(old)[-1]
        hook.api.migrated[str(old)] = new  # Telegram now refuses calls to the old id
        upgraded = hook.updates.message(None, chat_id=old, migrate_to_chat_id=new, **ana)
        assert (await hook.post(upgraded)).status_code == 200
        ana["chat_type"] = "supergroup"
        first = hook.updates.message(None, chat_id=new, migrate_from_chat_id=old, **ana)
        assert (await hook.post(first)).status_code == 200  # the same news again: nothing more
        bruno = {"chat_id": new, "user_id": 22, "first_name": "Bruno", "last_name": None}
        await hook.say("/status", **bruno)
        assert "Papel A4" in hook.api.texts(new)[-1]
        await hook.say(IDENTIFICATION[1], **bruno)  # answers the question asked in the group
        assert hook.api.texts(new)[-1] not in (question, m.ACCESS_DENIED)
        await hook.say("/listar", **bruno)
        assert "nº 1 — Papel A4" in hook.api.texts(new)[-1]
        assert m.ACCESS_DENIED not in hook.api.texts(new)
    finally:
        await client.aclose()
        await app.close()


async def test_a_migration_telegram_does_not_confirm_moves_nothing_and_admits_nobody(
    sqlite_url: str, bot_api: FakeBotApi
) -> None:
    # an update that merely says so (forged) would move the group's ETPs into another group
    # and admit that group
    old, elsewhere = -4003, -1009003
    app = await make_app(sqlite_url)
    configure(app, bot_api, allowed=frozenset({old}))
    hook, client = await open_webhook(app, bot_api)
    try:
        ana = {"user_id": 11, "first_name": "Ana", "chat_type": "group"}
        await hook.say("/novo Papel A4", chat_id=old, **ana)
        mallory = {"user_id": 66, "first_name": "Mallory", "chat_type": "supergroup"}
        said = hook.updates.message(None, chat_id=old, migrate_to_chat_id=elsewhere, **ana)
        assert (await hook.post(said)).status_code == 200
        first = hook.updates.message(None, chat_id=elsewhere, migrate_from_chat_id=old, **mallory)
        assert (await hook.post(first)).status_code == 200
        await hook.say("/listar", chat_id=elsewhere, **mallory)
        assert set(hook.api.texts(elsewhere)) == {m.ACCESS_DENIED}
        await hook.say("/status", chat_id=old, **ana)
        assert "Papel A4" in hook.api.texts(old)[-1]
    finally:
        await client.aclose()
        await app.close()


async def test_a_reply_to_a_group_that_became_a_supergroup_reaches_it_there(
    hook: Webhook,
) -> None:
    old, new = -4002, -1009002
    ana = {"user_id": 11, "first_name": "Ana", "chat_type": "group"}
    await hook.say("/novo Papel A4", chat_id=old, **ana)
    hook.api.migrated[str(old)] = new  # upgraded before this update's reply left
    await hook.say(IDENTIFICATION[0], chat_id=old, **ana)
    assert hook.api.texts(new), "the reply reached the supergroup"
    await hook.say("/status", chat_id=new, **ana)
    assert "Papel A4" in hook.api.texts(new)[-1]


async def test_strangers_are_refused_politely_and_nothing_about_them_is_stored(
    sqlite_url: str, bot_api: FakeBotApi
) -> None:
    app = await make_app(sqlite_url)
    configure(app, bot_api, allowed=frozenset({777}))
    webhook, client = await open_webhook(app, bot_api)
    try:
        await webhook.say("/novo Papel", chat_id=5001, user_id=5001)
        await webhook.post(webhook.updates.press("/aceitar", chat_id=5001, user_id=5001))
        assert webhook.api.texts(5001) == [m.ACCESS_DENIED]
        alert = webhook.api.sent("answerCallbackQuery")[0].params
        assert alert["text"] == m.ACCESS_DENIED and alert["show_alert"] is True
        for table in ("people", "conversations", "processed_events", "etps", "audit_events"):
            assert await count(app, table) == 0, table
        await webhook.say("/novo Papel", chat_id=777, user_id=777)
        assert webhook.api.texts(777)[0].startswith(
            "ETP nº 1 criado: Papel. Primeiro, a identificação."
        )
        assert await count(app, "people") == 1
    finally:
        await client.aclose()
        await app.close()


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


# --- the command line ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command_env(sqlite_url: str, bot_api: FakeBotApi) -> dict[str, str]:
    """The environment of an `etp` command run against the Bot API double."""
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": bot_api.url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "LLM_PROVIDER": "offline",
    }
    env.pop("REDIS_URL", None)
    return env


async def test_set_webhook_registers_url_secret_and_the_portuguese_menu(
    sqlite_url: str, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    env = _command_env(sqlite_url, bot_api)
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        "telegram",
        "--set-webhook",
        "https://etp.example.gov.br/telegram/webhook",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    hook = bot_api.sent("setWebhook")[0].params
    assert hook["url"] == "https://etp.example.gov.br/telegram/webhook"
    assert hook["secret_token"] == SECRET
    commands = bot_api.sent("setMyCommands")[0].params["commands"]
    assert {c["command"]: c["description"] for c in commands} == dict(menu())


async def test_set_webhook_without_a_secret_is_refused(
    sqlite_url: str, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    env = _command_env(sqlite_url, bot_api)
    del env["TELEGRAM_WEBHOOK_SECRET"]
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        "telegram",
        "--set-webhook",
        "https://etp.example.gov.br/telegram/webhook",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 2
    assert "TELEGRAM_WEBHOOK_SECRET is not set" in err.decode()
    assert "Traceback" not in err.decode()
    assert bot_api.sent("setWebhook") == []


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


async def test_serve_stopped_by_sigterm_delivers_the_document_on_its_way_and_stops_its_workers(
    sqlite_url: str, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    # how operators stop a service (systemd, Docker, Kubernetes): SIGTERM, then wait
    port = _free_port()
    env = _command_env(sqlite_url, bot_api)
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        "serve",
        "--port",
        str(port),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        updates = Updates()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            async with asyncio.timeout(60):
                while True:
                    try:
                        if (await client.get("/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            for words in ("/novo Papel A4", "/exportar pdf"):  # rendered by a worker
                response = await client.post(
                    "/telegram/webhook", json=updates.message(words), headers=headers
                )
                assert response.status_code == 200, response.text
                bot_api.delays["sendDocument"] = 1.0  # a slow upload, after the answer
        workers = _children(process.pid)
        assert workers, "the document workers are started with the server"
        process.terminate()  # while the document is on its way
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert [c.files["document"][0] for c in bot_api.sent("sendDocument")] == ["ETP-1.pdf"]
    await wait_until_stopped(workers)  # the worker is joined; multiprocessing's tracker follows


async def test_telegram_command_without_a_token_says_what_is_missing(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": sqlite_url}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        "telegram",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in err.decode()
