"""Composition of the Telegram channel: Bot, Dispatcher with its routers, the Notifier."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import Update

from bot.telegram.access import AccessMiddleware
from bot.telegram.channel import CHANNEL, TelegramChannel
from bot.telegram.routers import buttons, messages, start, store_down
from bot.telegram.session import create_session
from etp.container import App

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]


class TelegramNotConfigured(RuntimeError):
    """TELEGRAM_BOT_TOKEN is not set."""


def build_dispatcher(channel: TelegramChannel) -> Dispatcher:
    """Every router wired here, in one place; the channel is handed to handlers by name."""
    dispatcher = Dispatcher(channel=channel, disable_fsm=True)  # state lives in our database
    access = AccessMiddleware(channel)
    dispatcher.message.outer_middleware(access)
    dispatcher.callback_query.outer_middleware(access)
    dispatcher.include_routers(
        start.build_router(), messages.build_router(), buttons.build_router()
    )
    return dispatcher


@dataclass
class TelegramBot:
    """A ready bot: feed it webhook updates, or let it poll."""

    bot: Bot
    dispatcher: Dispatcher
    channel: TelegramChannel

    def parse(self, data: Any) -> Update:
        """A raw update body → Update bound to our bot; pydantic's ValidationError if it is not one."""
        return Update.model_validate(data, context={"bot": self.bot})

    async def process(self, update: Update) -> dict[str, Any] | None:
        """Handle one update to the end (committed, replies sent); raises StoreUnavailable.

        Returns the Bot API call to put in the webhook's answer (Telegram makes it), if any:
        the acknowledgement of a button press, whose result nobody needs."""
        result = await self.dispatcher.feed_update(self.bot, update)
        if isinstance(result, AnswerCallbackQuery):
            return {"method": result.__api_method__, **result.model_dump(exclude_none=True)}
        return None

    async def set_webhook(self, url: str, secret: str | None) -> None:
        await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        await self.channel.set_commands()

    async def run_polling(self, *, handle_signals: bool = True) -> None:
        """Long polling until stopped; a webhook, if any, is removed first (Telegram requires it).

        Polling cannot ask Telegram to deliver an update again, so when the database is down
        the user is asked to send it again instead.
        """
        if not any(r.name == "store_down" for r in self.dispatcher.sub_routers):
            self.dispatcher.include_router(store_down.build_router())
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.channel.set_commands()
        await self.dispatcher.start_polling(
            self.bot, allowed_updates=ALLOWED_UPDATES, handle_signals=handle_signals
        )

    async def stop_polling(self) -> None:
        await self.dispatcher.stop_polling()


def build_telegram(app: App) -> TelegramBot:
    """The Telegram channel on `app`, registered as its "telegram" Notifier."""
    settings = app.settings.telegram
    if settings.telegram_bot_token is None:
        raise TelegramNotConfigured("TELEGRAM_BOT_TOKEN is not set")
    session = create_session(settings.telegram_api_url, rate=settings.telegram_chat_rate)
    bot = Bot(settings.telegram_bot_token.get_secret_value(), session=session)
    channel = TelegramChannel(
        app.service, bot, allowed_ids=app.settings.access.etp_allowed_telegram_ids
    )
    app.notifier.register(CHANNEL, channel)
    app.closers.append(bot.session.close)
    return TelegramBot(bot, build_dispatcher(channel), channel)
