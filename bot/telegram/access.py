"""The allow-list (ETP_ALLOWED_TELEGRAM_IDS), checked before anything reaches the engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, User

from bot.telegram.channel import TelegramChannel
from conversations.catalogue import messages as m


class AccessMiddleware(BaseMiddleware):
    """Refuses politely anyone not listed; nothing about them reaches the engine or the database."""

    def __init__(self, channel: TelegramChannel) -> None:
        self.channel = channel

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if self.channel.allows(user, chat):
            return await handler(event, data)
        # a supergroup's first message says which group it was: admitted as that group was,
        # once Telegram confirms it
        was = event.migrate_from_chat_id if isinstance(event, Message) else None
        if (
            was is not None
            and chat is not None
            and self.channel.allows(None, None, was=was)
            and await self.channel.migration_confirmed(was, chat.id)
        ):
            return await handler(event, data)
        if isinstance(event, CallbackQuery):
            with suppress(TelegramAPIError):
                await event.answer(m.ACCESS_DENIED, show_alert=True)
        elif isinstance(event, Message):
            await self.channel.refuse(event.chat.id)
        return None
