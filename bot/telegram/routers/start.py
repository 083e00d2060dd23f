"""/start: the platform's first contact becomes the engine's "start" event."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import CommandStart
from aiogram.methods import TelegramMethod
from aiogram.types import Message, Update

from bot.telegram.channel import TelegramChannel


async def on_start(
    message: Message, event_update: Update, channel: TelegramChannel
) -> TelegramMethod[Any] | None:
    if message.from_user is None:
        return None
    inbound = channel.start(message.chat, message.from_user, event_update.update_id)
    # the last reply goes back in the webhook's answer when it can (TelegramBot.process)
    return await channel.respond(message.chat, inbound)


def build_router() -> Router:
    """A fresh router (a Router joins one Dispatcher only)."""
    router = Router(name="start")
    router.message.register(on_start, CommandStart())
    return router
