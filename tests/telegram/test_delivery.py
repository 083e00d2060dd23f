"""Replies reaching Telegram: Bot API errors and flood control, the pace per chat and per bot,
replies in the webhook's answer or through the Bot API."""

from __future__ import annotations

import asyncio
import json

import pytest

from conversations.catalogue import messages as m
from conversations.commands import help_text
from conversations.export import FORMATS
from tests.helpers import IDENTIFICATION, make_app, override
from tests.telegram.helpers import Webhook, configure, open_webhook
from tests.telegram_api import FakeBotApi

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
