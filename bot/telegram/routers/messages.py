"""Typed text and commands (a caption counts as text) become engine events."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message, Update

from bot.telegram.channel import TelegramChannel


async def on_message(message: Message, event_update: Update, channel: TelegramChannel) -> None:
    if message.from_user is None:
        return
    text = message.text or message.caption or ""
    inbound = channel.inbound(message.chat, message.from_user, text, event_update.update_id)
    await channel.send(message.chat.id, await channel.handle(inbound))


def build_router() -> Router:
    """A fresh router (a Router joins one Dispatcher only)."""
    router = Router(name="messages")
    router.message.register(on_message, F.text | F.caption)
    return router
