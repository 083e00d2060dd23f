"""Inline keyboard presses become engine "action" events carrying the button's command."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.methods import TelegramMethod
from aiogram.types import CallbackQuery, Update

from bot.telegram.channel import TelegramChannel, author_of


async def on_button(
    query: CallbackQuery, event_update: Update, channel: TelegramChannel
) -> TelegramMethod[Any] | None:
    """Returns a call instead of making it: a webhook puts it in its HTTP answer (Telegram
    makes it: one Bot API round trip less), polling has aiogram make it. That call is the
    reply's last message where one can go there (a private chat), the acknowledgement then
    leaving through the Bot API unawaited; else the acknowledgement."""
    if query.message is None:  # a button on an inline-mode message: not ours
        return None
    chat = query.message.chat
    pressed = channel.codec.pressed(query.data)
    if pressed is None:
        await channel.button_expired(chat.id)
        return query.answer()
    command, context = pressed
    author = author_of(query.from_user)  # a press always names the person who pressed
    inbound = channel.inbound(
        chat, author, command, event_update.update_id, kind="action", context=context
    )
    reply = await channel.respond(chat, inbound)
    # acknowledged after the commit: a redelivered press must not fail on an answered query
    if reply is None:
        return query.answer()
    channel.acknowledge(query.id)
    return reply


def build_router() -> Router:
    """A fresh router (a Router joins one Dispatcher only)."""
    router = Router(name="buttons")
    router.callback_query.register(on_button)
    return router
