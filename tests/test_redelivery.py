"""A redelivered event gets back the reply that never left, once (issue #19, item 4), on both
stores; and a Slack thread's root is claimed before it is posted (item 5)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from bot.slack.memory import LocalMemo, RedisMemo
from conversations.catalogue import messages as m
from conversations.events import Inbound
from conversations.replies import (
    Button,
    DraftingStarted,
    Text,
    TextRequest,
    replies_from_json,
    replies_to_json,
)
from etp.container import App
from tests.conftest import REDIS_TEST_URL
from tests.helpers import IDENTIFICATION, Chat, load_etp, make_app, make_chat


@pytest.fixture
async def chat(db_url: str) -> AsyncIterator[Chat]:
    app = await make_app(db_url)
    try:
        chat = make_chat(app)
        await chat.say("/novo Papel A4")
        yield chat
    finally:
        await app.close()


def answer(chat: Chat, words: str, event_id: str) -> Inbound:
    return Inbound.from_text(chat.address, chat.author, words, event_id)


async def settled(app: App, event_id: str) -> None:
    """The claim as old as a real redelivery's (Telegram and Slack retry after seconds)."""
    async with app.engine.begin() as conn:
        await conn.execute(
            text("UPDATE processed_events SET created_at = :at WHERE event_id = :event_id"),
            {"at": app.service.clock.now() - timedelta(seconds=10), "event_id": event_id},
        )


def headers(replies: list[object]) -> list[str]:
    return [r.text.split("\n")[0] for r in replies if isinstance(r, Text)]


NEXT = m.IDENT_HEADER.format(label=m.IDENT_FIELDS[1].label)


def test_replies_keep_what_a_channel_renders() -> None:
    replies = [
        Text("a", (Button("Aceitar", "/aceitar", "3.1"),), expects_text=True, replaces="j"),
        Text("b", request=TextRequest("/editar", "atual")),
        DraftingStarted("draft-1-3-1", "Redigindo…"),
    ]
    assert replies_from_json(replies_to_json(replies)) == replies


async def test_a_reply_that_never_left_is_sent_on_the_redelivery_once(chat: Chat) -> None:
    service = chat.service
    first = await service.handle(answer(chat, IDENTIFICATION[0], "upd-1"))
    assert headers(first) == [NEXT]
    # the process died before sending it: the channel never said it was delivered
    service._unsent.pop(("test", "upd-1"))
    await settled(chat.app, "upd-1")
    again = await service.handle(answer(chat, IDENTIFICATION[0], "upd-1"))
    assert headers(again) == [NEXT]
    await service.delivered(answer(chat, IDENTIFICATION[0], "upd-1"))
    assert await service.handle(answer(chat, IDENTIFICATION[0], "upd-1")) == []
    ident = (await load_etp(chat.app, 1)).identification
    assert (ident.orgao, ident.unidade) == (IDENTIFICATION[0], "")  # once, in its own field


async def test_copies_at_once_and_delivered_replies_get_nothing(chat: Chat) -> None:
    service = chat.service
    inbound = answer(chat, IDENTIFICATION[0], "upd-2")
    first = await service.handle(inbound)
    assert first
    # a copy while this process still sends the reply; then a young claim from elsewhere
    assert await service.handle(inbound) == []
    service._unsent.pop(("test", "upd-2"))
    assert await service.handle(inbound) == []
    # delivered, then redelivered later: nothing
    await service.delivered(inbound)
    await settled(chat.app, "upd-2")
    assert await service.handle(inbound) == []


async def test_a_reply_left_in_a_webhook_answer_stays_kept(chat: Chat) -> None:
    service = chat.service
    inbound = answer(chat, IDENTIFICATION[0], "upd-3")
    assert await service.handle(inbound)
    await service.delivered(inbound, None)  # it rides in the answer: nobody knows yet
    await settled(chat.app, "upd-3")
    assert headers(await service.handle(inbound)) == [NEXT]


async def test_a_stale_reply_is_not_sent_once_the_conversation_moved_on(chat: Chat) -> None:
    service = chat.service
    inbound = answer(chat, IDENTIFICATION[0], "upd-4")
    assert await service.handle(inbound)
    service._unsent.pop(("test", "upd-4"))
    await chat.say(IDENTIFICATION[1], event_id="upd-5")  # the user went on meanwhile
    await settled(chat.app, "upd-4")
    assert await service.handle(inbound) == []


async def test_only_one_caller_claims_a_local_memo_key() -> None:
    memo = LocalMemo()
    won = await asyncio.gather(*(memo.claim("root:T1:Ev1", "-", 30) for _ in range(3)))
    assert sorted(won) == [False, False, True]
    await memo.forget("root:T1:Ev1")
    assert await memo.claim("root:T1:Ev1", "-", 30)


@pytest.mark.redis
async def test_only_one_process_claims_a_redis_memo_key() -> None:
    from tests.conftest import need_service

    need_service("Redis", "127.0.0.1", 6379)
    clients = [Redis.from_url(REDIS_TEST_URL) for _ in range(3)]
    key = f"root:T1:{uuid.uuid4().hex}"
    try:
        memos = [RedisMemo(client) for client in clients]  # three processes
        won = await asyncio.gather(*(memo.claim(key, "-", 30) for memo in memos))
        assert sorted(won) == [False, False, True]
        await memos[0].forget(key)
        assert await memos[1].get(key) is None
    finally:
        for client in clients:
            await client.aclose()
