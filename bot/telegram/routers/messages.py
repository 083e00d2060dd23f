"""Typed text and commands (a caption counts as text) become engine events."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.enums import ChatType, ContentType
from aiogram.methods import TelegramMethod
from aiogram.types import Message, Update

from bot.telegram.channel import TelegramChannel, sender_of
from conversations.catalogue import messages as m
from conversations.events import command_addressee


async def has_text(message: Message) -> bool:
    # a coroutine on purpose: aiogram runs a synchronous filter (a magic F filter included)
    # through asyncio.to_thread, a thread hop on every message
    return bool(message.text or message.caption)


async def on_message(
    message: Message, event_update: Update, channel: TelegramChannel
) -> TelegramMethod[Any] | None:
    author = sender_of(message)
    if author is None:
        return None
    text = message.text or message.caption or ""
    addressee = command_addressee(text)
    if addressee is not None and not await channel.is_me(addressee):
        return None  # a command for another bot of the group
    inbound = channel.inbound(message.chat, author, text, event_update.update_id)
    # the last reply goes back in the webhook's answer when it can (TelegramBot.process)
    return await channel.respond(message.chat, inbound)


async def is_migration(message: Message) -> bool:
    return message.migrate_to_chat_id is not None or message.migrate_from_chat_id is not None


async def on_migration(message: Message, channel: TelegramChannel) -> None:
    """A group became a supergroup: Telegram gives it a new id and says so in both chats
    (either may come first, or alone); its conversation and shared ETPs continue there."""
    if message.migrate_to_chat_id is not None:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id is not None:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    if await channel.migration_confirmed(old, new):
        await channel.moved(old, new)


async def in_private_chat(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


async def on_other_content(message: Message, channel: TelegramChannel) -> None:
    """A photo, a voice note, a sticker... sent to the bot: it reads text only, and says so
    (in a group, people share such things among themselves: nothing is said there)."""
    if message.content_type in USER_CONTENT:
        await channel.notice(message.chat.id, m.TEXT_ONLY)


async def on_edit(message: Message, channel: TelegramChannel) -> None:
    """An edited message changes nothing already recorded: the user is told how to correct."""
    await channel.notice(message.chat.id, m.EDIT_NOT_APPLIED)


# what a person sends, as opposed to what Telegram reports (a member joined, a pin...)
USER_CONTENT = frozenset(
    {
        ContentType.ANIMATION,
        ContentType.AUDIO,
        ContentType.CONTACT,
        ContentType.DICE,
        ContentType.DOCUMENT,
        ContentType.LOCATION,
        ContentType.PHOTO,
        ContentType.POLL,
        ContentType.STICKER,
        ContentType.STORY,
        ContentType.VENUE,
        ContentType.VIDEO,
        ContentType.VIDEO_NOTE,
        ContentType.VOICE,
    }
)


def build_router() -> Router:
    """A fresh router (a Router joins one Dispatcher only)."""
    router = Router(name="messages")
    router.message.register(on_message, has_text)  # first: nearly every update is one
    router.message.register(on_migration, is_migration)
    router.message.register(on_other_content, in_private_chat)
    router.edited_message.register(on_edit, in_private_chat, has_text)
    return router
