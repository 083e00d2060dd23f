"""Composition of the Telegram channel: Bot, Dispatcher with its routers, the Notifier."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update

from bot.telegram.access import AccessMiddleware
from bot.telegram.channel import CHANNEL, TelegramChannel
from bot.telegram.routers import buttons, messages, start, store_down
from bot.telegram.session import ChatPacingMiddleware, create_session
from etp.container import App

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


class TelegramNotConfigured(RuntimeError):
    """TELEGRAM_BOT_TOKEN is not set."""


def build_dispatcher(channel: TelegramChannel) -> Dispatcher:
    """Every router wired here, in one place; the channel is handed to handlers by name."""
    dispatcher = Dispatcher(channel=channel, disable_fsm=True)  # state lives in our database
    access = AccessMiddleware(channel)
    dispatcher.message.outer_middleware(access)
    dispatcher.edited_message.outer_middleware(access)
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
    pacing: ChatPacingMiddleware
    # seconds of handling after which the answer's call is made here instead (Telegram waits
    # about a minute for a webhook's answer)
    answer_deadline: float = 15.0

    def parse(self, data: Any) -> Update:
        """A raw update body → Update bound to our bot; pydantic's ValidationError if it is not one."""
        return Update.model_validate(data, context={"bot": self.bot})

    async def process(self, update: Update) -> dict[str, Any] | None:
        """Handle one update (committed, replies sent or on their way); raises StoreUnavailable.

        Returns the Bot API call to put in the webhook's answer, if any: Telegram makes it,
        which spares a round trip (https://core.telegram.org/bots/api#making-requests-when-getting-updates).
        That is a button press's acknowledgement, or the last message of the reply in a
        private chat (the handlers decide) when the pace allows it at once. Nobody learns
        whether Telegram made that call, so a message that would have to wait for the pace
        (where a 429 is likeliest), or that comes after `answer_deadline` seconds of work
        (Telegram may have stopped waiting for this answer and delivered the update again),
        is sent here instead, where flood control is waited out and retried.
        """
        started = time.monotonic()
        result = await self.dispatcher.feed_update(self.bot, update)
        if not isinstance(result, TelegramMethod):
            return None
        in_time = time.monotonic() - started < self.answer_deadline
        if in_time and await self.pacing.take_now(result):
            return self.answer_body(result)
        await self.channel.send_call(result)
        return None

    def answer_body(self, call: TelegramMethod[Any]) -> dict[str, Any]:
        """A call as a webhook's JSON answer: values prepared as aiogram sends them (defaults
        resolved, objects as JSON text, which Telegram reads in a JSON body as well)."""
        files: dict[str, Any] = {}
        body: dict[str, Any] = {"method": call.__api_method__}
        for key, value in call.model_dump(warnings=False).items():
            prepared = self.bot.session.prepare_value(value, bot=self.bot, files=files)
            if prepared is not None:
                body[key] = prepared
        if files:  # channel.answerable keeps uploads out of answers
            raise ValueError(f"{call.__api_method__} uploads a file; it cannot be an answer")
        return body

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
        # the session stays open for the replies still leaving (the App's closers drain them,
        # then close it)
        await self.dispatcher.start_polling(
            self.bot,
            allowed_updates=ALLOWED_UPDATES,
            handle_signals=handle_signals,
            close_bot_session=False,
        )

    async def stop_polling(self) -> None:
        await self.dispatcher.stop_polling()


def build_telegram(app: App) -> TelegramBot:
    """The Telegram channel on `app`, registered as its "telegram" Notifier."""
    settings = app.settings.telegram
    if settings.telegram_bot_token is None:
        raise TelegramNotConfigured("TELEGRAM_BOT_TOKEN is not set")
    pacing = ChatPacingMiddleware(
        rate=settings.telegram_chat_rate, bot_rate=settings.telegram_bot_rate
    )
    session = create_session(settings.telegram_api_url, pacing)
    bot = Bot(settings.telegram_bot_token.get_secret_value(), session=session)
    channel = TelegramChannel(
        app.service, bot, allowed_ids=app.settings.access.etp_allowed_telegram_ids
    )
    app.notifier.register(CHANNEL, channel)
    app.closers.append(bot.session.close)
    app.closers.append(channel.drain)  # closers run last first: before the session closes
    return TelegramBot(bot, build_dispatcher(channel), channel, pacing)
