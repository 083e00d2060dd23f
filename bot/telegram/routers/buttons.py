"""Inline keyboard presses become engine "action" events carrying the button's command."""

from __future__ import annotations

from aiogram import Router
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, Update

from bot.telegram.channel import TelegramChannel


async def on_button(
    query: CallbackQuery, event_update: Update, channel: TelegramChannel
) -> AnswerCallbackQuery | None:
    """Returns the press's acknowledgement instead of calling it: a webhook answers it in its
    HTTP response (Telegram runs it: one Bot API call less), polling has aiogram call it."""
    if query.message is None:  # a button on an inline-mode message: not ours
        return None
    chat = query.message.chat
    command = channel.codec.decode(query.data)
    if command is None:
        await channel.button_expired(chat.id)
        return query.answer()
    inbound = channel.inbound(chat, query.from_user, command, event_update.update_id, kind="action")
    await channel.respond(chat, inbound, answer=False)  # the answer acknowledges the press
    # acknowledged after the commit: a redelivered press must not fail on an answered query
    return query.answer()


def build_router() -> Router:
    """A fresh router (a Router joins one Dispatcher only)."""
    router = Router(name="buttons")
    router.callback_query.register(on_button)
    return router
