"""Composition of the Telegram channel: Bot, Dispatcher with its routers, the Notifier."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

from api.ratelimit import TokenRateLimiter
from bot.telegram.access import AccessMiddleware
from bot.telegram.channel import CHANNEL, TelegramChannel
from bot.telegram.routers import buttons, messages, start, store_down
from bot.telegram.session import ChatPacingMiddleware, SharedPace, create_session
from etp.container import App
from storage.coordination import Lease, RedisLocks

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
POLL_SECONDS = 10  # how long a getUpdates waits for an update (long polling)
BACKOFF = BackoffConfig(  # aiogram's own
    min_delay=1.0, max_delay=5.0, factor=1.3, jitter=0.1
)


class TelegramNotConfigured(RuntimeError):
    """TELEGRAM_BOT_TOKEN is not set."""


class WebhookIsSet(RuntimeError):
    """Polling was asked for while Telegram delivers this bot's updates to a webhook."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class AlreadyPolling(RuntimeError):
    """Another process polls for this bot (Telegram allows one getUpdates at a time)."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


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
    _stop: asyncio.Event | None = field(default=None, repr=False)
    _stopped: asyncio.Event | None = field(default=None, repr=False)

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

    async def run_polling(
        self,
        *,
        handle_signals: bool = True,
        delete_webhook: bool = False,
        lease: Lease | None = None,
    ) -> None:
        """Long polling until stopped.

        Refused (WebhookIsSet) while a webhook is set, unless `delete_webhook`: polling would
        take the updates away from the `etp serve` it points at. With `lease` (Redis), refused
        (AlreadyPolling) while another process polls for the bot, and stopped if that lease
        is lost. Polling cannot ask Telegram to deliver an update again, so when the database
        is down the user is asked to send it again instead.
        """
        if lease is not None:
            holder = await lease.acquire(on_lost=self._lost_lease)
            if holder is not None:
                raise AlreadyPolling(holder)
        try:
            await self._poll(handle_signals=handle_signals, delete_webhook=delete_webhook)
        finally:
            if lease is not None:
                await lease.release()

    def _lost_lease(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def _poll(self, *, handle_signals: bool, delete_webhook: bool) -> None:
        if not any(r.name == "store_down" for r in self.dispatcher.sub_routers):
            self.dispatcher.include_router(store_down.build_router())
        info = await self.bot.get_webhook_info()
        if info.url and not delete_webhook:
            raise WebhookIsSet(info.url)
        # no webhook (or the operator asked): Telegram refuses getUpdates while one is set
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.channel.set_commands()
        self.channel.webhook_answers = False  # nobody makes a call left in an answer
        stop = self._stop = asyncio.Event()
        stopped = self._stopped = asyncio.Event()
        if handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        try:
            await self._listen(stop)
        finally:
            stopped.set()

    async def _listen(self, stop: asyncio.Event) -> None:
        """Long polling that confirms only what took effect.

        aiogram's polling confirms a batch (the next getUpdates' offset) while the handlers
        of its updates still run, and cancels them when it stops: an update fetched but not
        yet committed was lost to a crash or a restart, as Telegram never delivers a
        confirmed update again. Here a batch is handled whole (its updates concurrently, each
        chat's in order) before the next getUpdates confirms it, and a stop waits for the
        batch in hand: a crash leaves its updates unconfirmed, and the next poller gets them
        again (the committed ones are redeliveries: their claim dedupes them, and a reply
        that had not left is sent then, see EtpService.handle).
        """
        log.info("polling for updates of bot %s", self.bot.id)
        backoff = Backoff(BACKOFF)
        offset: int | None = None
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                fetch = asyncio.ensure_future(self._fetch(offset))
                await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():  # stopped while waiting: nothing fetched is confirmed
                    fetch.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await fetch
                    break
                try:
                    updates = fetch.result()
                except Exception as exc:  # the Bot API unreachable or refusing: try again
                    log.warning("getUpdates failed (%s); again in %.1f s", exc, backoff.next_delay)
                    await asyncio.wait({stopping}, timeout=backoff.next_delay)
                    next(backoff)
                    continue
                backoff.reset()
                if not updates:
                    continue
                # not cancelled by a stop: a stop lets the batch in hand finish
                await asyncio.gather(*(self._handle(update) for update in updates))
                offset = updates[-1].update_id + 1
        finally:
            stopping.cancel()
            if offset is not None:
                await self._confirm(offset)
            log.info("polling stopped for bot %s", self.bot.id)

    async def _fetch(self, offset: int | None) -> list[Update]:
        call = GetUpdates(offset=offset, timeout=POLL_SECONDS, allowed_updates=ALLOWED_UPDATES)
        timeout = int((self.bot.session.timeout or 0) + POLL_SECONDS)
        return await self.bot(call, request_timeout=timeout)

    async def _confirm(self, offset: int) -> None:
        """Tell Telegram the last batch took effect (the next poller starts after it)."""
        try:
            await self.bot(GetUpdates(offset=offset, timeout=0, limit=1))
        except Exception as exc:  # the next poller gets the batch again: duplicates, no loss
            log.warning("could not confirm the updates before %s: %s", offset, exc)

    async def _handle(self, update: Update) -> None:
        """One polled update: handled, its replies sent; an error is logged, never raised (the
        batch goes on)."""
        try:
            result = await self.dispatcher.feed_update(self.bot, update)
            if isinstance(result, TelegramMethod):  # a press's acknowledgement
                await self.channel.send_call(result)
        except Exception:
            log.exception("update %s failed", update.update_id)

    async def stop_polling(self) -> None:
        """Stop polling once the batch in hand is handled and confirmed."""
        if self._stop is None or self._stopped is None:
            return
        self._stop.set()
        await self._stopped.wait()

    def poller_lease(self, app: App) -> Lease | None:
        """The Redis lease only one poller of this bot may hold; None without Redis."""
        if app.redis is None:
            return None
        return Lease(app.redis, f"etp:telegram:poller:{self.bot.id}")


def build_telegram(app: App) -> TelegramBot:
    """The Telegram channel on `app`, registered as its "telegram" Notifier."""
    settings = app.settings.telegram
    if settings.telegram_bot_token is None:
        raise TelegramNotConfigured("TELEGRAM_BOT_TOKEN is not set")
    token = settings.telegram_bot_token.get_secret_value()
    redis_url = app.settings.redis.redis_url
    # several processes (replicas, workers) send as this bot: its pace and each chat's order
    # are kept in Redis, shared by all of them
    shared = (
        SharedPace(
            redis_url,
            rate=settings.telegram_chat_rate,
            burst=3,
            bot_rate=settings.telegram_bot_rate,
            bot_id=token.split(":", 1)[0],
        )
        if redis_url
        else None
    )
    pacing = ChatPacingMiddleware(
        rate=settings.telegram_chat_rate, bot_rate=settings.telegram_bot_rate, shared=shared
    )
    session = create_session(settings.telegram_api_url, pacing)
    bot = Bot(token, session=session)
    order = RedisLocks(app.redis, f"etp:telegram:order:{bot.id}") if app.redis else None
    refusals = TokenRateLimiter(
        app.settings.access.etp_refusals_per_stranger,
        redis_url,
        key_prefix="etp:refusals",
        namespace="telegram",
    )
    channel = TelegramChannel(
        app.service,
        bot,
        allowed_ids=app.settings.access.etp_allowed_telegram_ids,
        order=order,
        refusals=refusals,
    )
    app.notifier.register(CHANNEL, channel)
    app.closers.append(bot.session.close)
    app.closers.append(channel.drain)  # closers run last first: before the session closes
    return TelegramBot(bot, build_dispatcher(channel), channel, pacing)
