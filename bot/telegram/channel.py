"""The Telegram channel: Telegram objects → engine events, engine replies → Bot API calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.enums import ChatAction, ChatType
from aiogram.exceptions import (
    AiogramError,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    GetChat,
    SendChatAction,
    SendDocument,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import BotCommand, BufferedInputFile, Chat, Message, User
from cachetools import TTLCache

from bot.telegram.render import MAX_CAPTION, CallbackCodec, coalesce, keyboard, split_text
from conversations.catalogue import messages as m
from conversations.commands import menu
from conversations.events import Address, Author, Inbound
from conversations.replies import Document, DraftingStarted, Reply, Text
from conversations.service import EtpService, MemoryLocks
from storage.coordination import RedisLocks

if TYPE_CHECKING:
    from api.ratelimit import TokenRateLimiter

log = logging.getLogger(__name__)

CHANNEL = "telegram"


def answerable(call: TelegramMethod[Any]) -> bool:
    """Whether a webhook's answer may carry the call: a message (no file upload, which a JSON
    answer cannot hold; no "typing", which must show before a job's draft arrives)."""
    return isinstance(call, SendMessage)


def answers_in_webhook(chat: Chat) -> bool:
    """Private chats only: Telegram also limits a group to about 20 messages a minute, which is
    not paced here, and a 429 on a call made from a webhook's answer is never retried."""
    return chat.type == ChatType.PRIVATE


def address_of(chat: Chat) -> Address:
    """One conversation per chat; a group or supergroup is a shared conversation."""
    return Address(CHANNEL, str(chat.id), "", shared=chat.type != ChatType.PRIVATE)


def group_address(chat_id: int) -> Address:
    return Address(CHANNEL, str(chat_id), "", shared=True)


def author_of(user: User) -> Author:
    return Author(CHANNEL, str(user.id), user.full_name)


def sender_of(message: Message) -> Author | None:
    """Who wrote `message`; None when it is nobody's answer.

    An anonymous group administrator, or a member posting as one of their channels, writes on
    behalf of a chat: Telegram then puts a stand-in account in `from`, the same in every group
    (GroupAnonymousBot, Channel_Bot). The chat is the author, never the stand-in, or one
    group's anonymous administrators would own, list and resume another group's ETPs. A channel
    post that Telegram forwards by itself into the channel's discussion group is nobody's.
    """
    if message.is_automatic_forward:
        return None
    if message.sender_chat is not None:
        chat = message.sender_chat
        return Author(CHANNEL, str(chat.id), chat.full_name or str(chat.id))
    return author_of(message.from_user) if message.from_user is not None else None


def command_menu() -> list[BotCommand]:
    return [BotCommand(command=name, description=text) for name, text in menu()]


class TelegramChannel:
    """Hands events to the engine and renders its replies; also the channel's Notifier."""

    def __init__(
        self,
        service: EtpService,
        bot: Bot,
        *,
        allowed_ids: frozenset[int] = frozenset(),
        codec: CallbackCodec | None = None,
        order: MemoryLocks | RedisLocks | None = None,
        refusals: TokenRateLimiter | None = None,
    ) -> None:
        self.refusals = refusals
        self.service = service
        self.bot = bot
        self.allowed_ids = allowed_ids
        self.codec = codec or CallbackCodec()
        # RedisLocks when several processes send to the same chats (see `in_order`)
        self._order = order or MemoryLocks()
        # job id → the message showing that job's draft as it is written (this process edits it
        # until the finished draft takes its place)
        self._streams: TTLCache[str, int] = TTLCache(maxsize=4096, ttl=3600)
        self._sending: set[asyncio.Task[Any]] = set()
        self._migrations: dict[int, int] = {}  # old group id -> supergroup, as Telegram confirmed
        # whether a handler may leave its last call for the webhook's answer (polling: no)
        self.webhook_answers = True

    def allows(self, user: User | None, chat: Chat | None, *, was: int | None = None) -> bool:
        """Open when no allow-list is set; else the user (or the whole chat) must be listed.
        `was`: the chat's id before it became a supergroup."""
        if not self.allowed_ids:
            return True
        ids = {user.id if user else None, chat.id if chat else None, was}
        return bool(ids & self.allowed_ids)

    async def migration_confirmed(self, old_chat_id: int, new_chat_id: int) -> bool:
        """Whether Telegram itself says group `old_chat_id` became `new_chat_id`: a call to an
        upgraded group is refused with the new id. An update's word alone is not enough (it
        would move a group's ETPs, and its admission, wherever the update says)."""
        if self._migrations.get(old_chat_id) == new_chat_id:
            return True
        try:
            await self.bot(GetChat(chat_id=old_chat_id))
        except TelegramMigrateToChat as exc:
            if exc.migrate_to_chat_id == new_chat_id:
                self._migrations[old_chat_id] = new_chat_id
                return True
        except AiogramError as exc:
            log.warning("could not confirm that group %s moved: %s", old_chat_id, exc)
        log.warning(
            "an update says group %s became %s, but Telegram does not: ignored",
            old_chat_id,
            new_chat_id,
        )
        return False

    async def moved(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became supergroup `new_chat_id`: its conversation and shared ETPs move there,
        and so does its place in the allow-list, for this process (the operator is told)."""
        if old_chat_id in self.allowed_ids and new_chat_id not in self.allowed_ids:
            self.allowed_ids = self.allowed_ids | {new_chat_id}
            log.warning(
                "Telegram group %s is now supergroup %s: add %s to ETP_ALLOWED_TELEGRAM_IDS",
                old_chat_id,
                new_chat_id,
                new_chat_id,
            )
        await self.service.move_conversation(group_address(old_chat_id), group_address(new_chat_id))

    async def is_me(self, username: str) -> bool:
        """Whether `username` is this bot's (getMe, asked once)."""
        me = await self.bot.me()
        return username.lower() == (me.username or "").lower()

    def inbound(
        self,
        chat: Chat,
        author: Author,
        text: str,
        update_id: int,
        *,
        kind: str | None = None,
        context: str = "",
    ) -> Inbound:
        return Inbound.from_text(
            address_of(chat), author, text, str(update_id), kind=kind, context=context
        )

    def start(self, chat: Chat, author: Author, update_id: int) -> Inbound:
        return Inbound(address_of(chat), author, "start", event_id=str(update_id))

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """The engine's answer; raises StoreUnavailable when nothing could be committed."""
        return await self.service.handle(inbound)

    async def respond(self, chat: Chat, inbound: Inbound) -> TelegramMethod[Any] | None:
        """Handle an update and send its replies, in order with late ones; returns the call
        left for the webhook's answer (see `send`), in private chats only.

        A reply with a document is sent after the webhook's answer instead: an upload can take
        seconds (a PDF to Telegram), and meanwhile the webhook would hold one of the few
        connections Telegram opens to us. The chat's order (see `in_order`) passes to that
        send, so the chat's next replies still come after the document."""
        release = await self._order.acquire(str(chat.id))
        handed_over = False
        try:
            replies = await self.handle(inbound)
            if any(isinstance(r, Document) for r in replies):
                self._later(self._deliver(chat.id, replies, inbound), then=release)
                handed_over = True
                return None
            answer = self.webhook_answers and answers_in_webhook(chat)
            return await self._deliver(chat.id, replies, inbound, answer=answer)
        finally:
            if not handed_over:
                release()

    async def _deliver(
        self,
        chat_id: int | str,
        replies: Sequence[Reply],
        inbound: Inbound,
        *,
        answer: bool = False,
    ) -> TelegramMethod[Any] | None:
        """`send`, then tell the engine what left: a redelivery of the update sends again only
        what had not (see EtpService.delivered). A call left for the webhook's answer has not
        left yet: if Telegram never gets that answer it delivers the update again, and that
        reply is sent then."""
        last, sent = await self._send(chat_id, replies, answer=answer)
        if not replies:  # nothing to deliver (a duplicate, or nothing to say)
            return last
        if last is None:
            await self.service.delivered(inbound)
        elif sent == 0:
            await self.service.delivered(inbound, None)  # all of it in the answer: kept as is
        else:
            final = [r for r in coalesce(replies) if isinstance(r, Text)][-1]
            await self.service.delivered(inbound, [replace(final, text=last.text)])
        return last

    def in_order(self, chat_id: int | str) -> AbstractAsyncContextManager[None]:
        """Held while an update is handled and its replies sent: a late reply (a job's draft,
        through `notify`) waits for it, so it never arrives before "Redigindo…" and "typing"
        (a dead LLM's offline fallback can be that fast). The engine releases its own lock
        before notifying, so the two locks are never taken in opposite orders. With Redis the
        lock is shared: a draft finished by `etp worker`, or the next update of the chat taken
        by another replica, waits for this process's replies too."""
        return self._order.hold(str(chat_id))

    async def still_drafting(self, address: Address) -> None:
        """ "typing" again while a draft is still being written (Telegram shows it for 5 s)."""
        await self.send_call(SendChatAction(chat_id=address.chat_id, action=ChatAction.TYPING))

    async def drafting_progress(self, address: Address, job_id: str, text: str) -> None:
        """The draft so far in one message, edited as it grows (the engine paces the edits;
        the session paces every call to the chat)."""
        body = split_text(m.DRAFT_STREAMING.format(text=text))[0]
        shown = self._streams.get(job_id)
        try:
            if shown is None:
                sent = await self.bot(SendMessage(chat_id=address.chat_id, text=body))
                self._streams[job_id] = sent.message_id
            else:
                await self.bot(
                    EditMessageText(chat_id=address.chat_id, message_id=shown, text=body)
                )
        except TelegramAPIError as exc:
            log.warning("Telegram refused a draft update in %s: %s", address.chat_id, exc)

    async def notify(self, address: Address, replies: Sequence[Reply]) -> None:
        """Late replies (a finished draft) for a conversation of this channel; a draft that was
        shown as it was written takes the place of that message."""
        async with self.in_order(address.chat_id):
            rest: list[Reply] = []
            for reply in replies:
                if not await self._finish_stream(address.chat_id, reply):
                    rest.append(reply)
            await self.send(address.chat_id, rest)

    async def _finish_stream(self, chat_id: int | str, reply: Reply) -> bool:
        """Edit the streamed message into the finished draft; False when it must be sent."""
        if not isinstance(reply, Text) or reply.replaces is None:
            return False
        shown = self._streams.pop(reply.replaces, None)
        chunks = split_text(reply.text)
        if shown is None or len(chunks) > 1:
            return False
        try:
            await self.bot(
                EditMessageText(
                    chat_id=chat_id,
                    message_id=shown,
                    text=chunks[0],
                    reply_markup=keyboard(reply.buttons, self.codec),
                )
            )
        except TelegramAPIError as exc:
            log.warning("could not edit the streamed draft in %s: %s", chat_id, exc)
            return False
        return True

    def calls(self, chat_id: int | str, replies: Sequence[Reply]) -> list[TelegramMethod[Any]]:
        """The Bot API calls that render `replies`, in order."""
        calls: list[TelegramMethod[Any]] = []
        for reply in coalesce(replies):
            calls.extend(self._calls(chat_id, reply))
        return calls

    def _calls(self, chat_id: int | str, reply: Reply) -> list[TelegramMethod[Any]]:
        if isinstance(reply, Text):
            chunks = split_text(reply.text)
            last = SendMessage(
                chat_id=chat_id, text=chunks[-1], reply_markup=keyboard(reply.buttons, self.codec)
            )
            return [*(SendMessage(chat_id=chat_id, text=c) for c in chunks[:-1]), last]
        if isinstance(reply, DraftingStarted):
            return [
                SendMessage(chat_id=chat_id, text=reply.text),
                SendChatAction(chat_id=chat_id, action=ChatAction.TYPING),
            ]
        if isinstance(reply, Document):
            caption = reply.caption if len(reply.caption) <= MAX_CAPTION else None
            upload = SendDocument(
                chat_id=chat_id,
                document=BufferedInputFile(reply.content, reply.filename),
                caption=caption,
            )
            if caption is None and reply.caption:
                return [upload, *self._calls(chat_id, Text(reply.caption))]
            return [upload]
        raise TypeError(f"no Telegram rendering for {type(reply).__name__}")

    async def send(
        self, chat_id: int | str, replies: Sequence[Reply], *, answer: bool = False
    ) -> TelegramMethod[Any] | None:
        """Render the replies in order; a chat that refuses messages is logged, not retried.

        With `answer`, the last call is returned instead of made when a webhook's answer can
        carry it (no file in it): the handler returns it and Telegram makes it, one Bot API
        round trip less (TelegramBot.process decides whether it goes in the answer).
        """
        return (await self._send(chat_id, replies, answer=answer))[0]

    async def _send(
        self, chat_id: int | str, replies: Sequence[Reply], *, answer: bool = False
    ) -> tuple[SendMessage | None, int]:
        """`send`'s work: the call left for the answer, and how many calls were made."""
        calls = self.calls(chat_id, replies)
        # a reply that starts a draft job is sent whole before the handler lets the job's
        # draft through (in_order); an answer would leave after that
        answer = answer and not any(isinstance(r, DraftingStarted) for r in replies)
        last = calls.pop() if answer and calls and answerable(calls[-1]) else None
        for call in calls:
            if not await self.send_call(call):
                return None, len(calls)  # the chat refuses the bot: the rest would fail too
        return (last if isinstance(last, SendMessage) else None), len(calls)

    async def send_call(self, call: TelegramMethod[Any], *, moved: bool = False) -> bool:
        """One call through the Bot API (paced; flood control and Telegram's 5xx waited out).
        False when the chat refuses the bot (blocked, removed); a call refused for itself is
        logged and the chat takes the next. A group that became a supergroup gets the call at
        its new id, and its conversation moves there."""
        try:
            await self.bot(call)
        except TelegramMigrateToChat as exc:
            old = getattr(call, "chat_id", None)
            if moved or not isinstance(old, int | str):
                log.warning("Telegram refused a reply: %s", exc)
                return False
            await self.moved(int(old), exc.migrate_to_chat_id)
            there = call.model_copy(update={"chat_id": exc.migrate_to_chat_id})
            return await self.send_call(there, moved=True)
        except (TelegramForbiddenError, TelegramNotFound) as exc:
            log.warning("chat %s refuses the bot: %s", getattr(call, "chat_id", ""), exc)
            return False
        except TelegramAPIError as exc:
            log.warning(
                "Telegram refused a reply to chat %s: %s", getattr(call, "chat_id", ""), exc
            )
        return True

    def acknowledge(self, query_id: str) -> None:
        """A button press's acknowledgement through the Bot API, not waited for: the webhook's
        answer carries the reply instead, and the press needs no round trip before it. An
        acknowledgement that fails (Telegram gave up on the query) only leaves the client's
        spinner to time out, so it is logged, never retried beyond flood control."""
        self._later(self.send_call(AnswerCallbackQuery(callback_query_id=query_id)))

    def _later(
        self, sending: Coroutine[Any, Any, Any], *, then: Callable[[], None] | None = None
    ) -> None:
        """Bot API calls that leave after the webhook's answer, kept until done; `then` runs
        when they are, however they end (even cancelled before they started)."""
        task = asyncio.create_task(sending)
        self._sending.add(task)
        task.add_done_callback(self._sent)
        if then is not None:
            task.add_done_callback(lambda _: then())

    def _sent(self, task: asyncio.Task[Any]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a reply sent after the answer failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for the calls still leaving after their answer (at shutdown); being cancelled
        does not cancel them."""
        while self._sending:
            await asyncio.wait(set(self._sending))

    async def refuse(self, chat_id: int | str) -> None:
        """Tell a stranger they are not allowed, once in ETP_REFUSALS_PER_STRANGER: each
        refusal is a message that takes from the bot's sending rate."""
        if self.refusals is not None and await self.refusals.retry_after(str(chat_id)):
            return
        await self.notice(chat_id, m.ACCESS_DENIED)

    async def notice(self, chat_id: int | str, text: str) -> None:
        """A message of the channel's own, outside any conversation."""
        await self.send(chat_id, [Text(text)])

    async def button_expired(self, chat_id: int | str) -> None:
        await self.notice(chat_id, m.BUTTON_EXPIRED)

    async def set_commands(self) -> None:
        await self.bot.set_my_commands(command_menu())
