"""Inline keyboard presses become engine "action" events carrying the button's command."""

from __future__ import annotations

from contextlib import suppress

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Update

from bot.telegram.channel import TelegramChannel


async def on_button(query: CallbackQuery, event_update: Update, channel: TelegramChannel) -> None:
    if query.message is None:  # a button on an inline-mode message: not ours
        return
    chat = query.message.chat
    command = channel.codec.decode(query.data)
    if command is None:
        await _acknowledge(query)
        await channel.button_expired(chat.id)
        return
    inbound = channel.inbound(chat, query.from_user, command, event_update.update_id, kind="action")
    replies = await channel.handle(inbound)
    # acknowledged after the commit: a redelivered press must not fail on an answered query
    await _acknowledge(query)
    await channel.send(chat.id, replies)


async def _acknowledge(query: CallbackQuery) -> None:
    with suppress(TelegramAPIError):
        await query.answer()


def build_router() -> Router:
    """A fresh router (a Router joins one Dispatcher only)."""
    router = Router(name="buttons")
    router.callback_query.register(on_button)
    return router
