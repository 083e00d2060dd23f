"""Groups and who may write: shared ETPs, other bots' commands, anonymous administrators,
supergroup migration, channels, strangers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from conversations.catalogue import messages as m
from tests.helpers import GOOD_ANSWERS, IDENTIFICATION, count, make_app
from tests.telegram.helpers import Webhook, configure, open_webhook
from tests.telegram_api import FakeBotApi


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
        "1. Descrição da necessidade (obrigatória) — aceita · por Ana Souza, Bruno"
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
    assert "Seção 2 aceita." in hook.api.texts(5001)[-1]


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
