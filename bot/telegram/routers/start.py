"""/start: the platform's first contact becomes the engine's "start" event."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import CommandStart
from aiogram.methods import TelegramMethod
from aiogram.types import Message, Update

from bot.telegram.channel import TelegramChannel, sender_of


async def on_start(
    message: Message, event_update: Update, channel: TelegramChannel
) -> TelegramMethod[Any] | None:
    author = sender_of(message)
    if author is None:
        return None
    inbound = channel.start(message.chat, author, event_update.update_id)
    # the last reply goes back in the webhook's answer when it can (TelegramBot.process)
    return await channel.respond(message.chat, inbound)


def build_router() -> Router:
    """A fresh router (a Router joins one Dispatcher only)."""
    router = Router(name="start")
    router.message.register(on_start, CommandStart())
    return router
