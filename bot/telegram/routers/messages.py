"""Typed text and commands (a caption counts as text) become engine events."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.methods import TelegramMethod
from aiogram.types import Message, Update

from bot.telegram.channel import TelegramChannel, sender_of
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


def build_router() -> Router:
    """A fresh router (a Router joins one Dispatcher only)."""
    router = Router(name="messages")
    router.message.register(on_message, has_text)
    return router
