"""Polling only: an update that could not be committed is answered with "try again"."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent

from bot import common
from bot.telegram.channel import TelegramChannel
from conversations.ports import StoreUnavailable


async def on_store_down(event: ErrorEvent, channel: TelegramChannel) -> None:
    update = event.update
    message = update.message or (update.callback_query.message if update.callback_query else None)
    if message is not None:
        await channel.send(message.chat.id, common.store_down(f"telegram:{message.chat.id}"))


def build_router() -> Router:
    """A fresh router (a Router joins one Dispatcher only)."""
    router = Router(name="store_down")
    router.errors.register(on_store_down, ExceptionTypeFilter(StoreUnavailable))
    return router
