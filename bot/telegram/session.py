"""The Bot API HTTP session: another server when configured, 429s waited out, per-chat pacing."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError
from aiogram.methods import (
    AnswerCallbackQuery,
    CopyMessage,
    DeleteWebhook,
    EditMessageText,
    ForwardMessage,
    GetMe,
    GetUpdates,
    Response,
    SendChatAction,
    SendDocument,
    SendMessage,
    SendPhoto,
    SetMyCommands,
    SetWebhook,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiolimiter import AsyncLimiter
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

log = logging.getLogger(__name__)

# aiogram validates every answer as Response[<result type>]; pydantic keeps parametrized models
# only while something references them, so without these references each call could build the
# model class again (milliseconds of schema work per Bot API call under load).
_RESPONSE_MODELS = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        SendMessage,
        SendDocument,
        SendChatAction,
        AnswerCallbackQuery,
        EditMessageText,
        SetMyCommands,
        SetWebhook,
        DeleteWebhook,
        GetMe,
        GetUpdates,
    )
)

# Methods that put a message into a chat; Telegram asks bots to keep to about one per second.
PACED = (SendMessage, SendDocument, SendPhoto, CopyMessage, ForwardMessage, EditMessageText)


def _log_wait(method: TelegramMethod[Any], seconds: float, exc: BaseException | None) -> None:
    why = "flood control" if isinstance(exc, TelegramRetryAfter) else "server error"
    log.warning("Bot API %s on %s; waiting %.0f s", why, type(method).__name__, seconds)


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Waits out Bot API 429 answers (their retry_after) and tries again, a bounded number of
    times; a 5xx (Telegram's own trouble) likewise, after 1, 2, 4... seconds."""

    def __init__(self, *, attempts: int = 4, max_wait: float = 60.0) -> None:
        self.attempts = attempts
        self.max_wait = max_wait

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self._wait_after(exc, state.attempt_number + 1)  # the first try came before

    @staticmethod
    def _wait_after(exc: BaseException | None, attempt: int) -> float:
        if isinstance(exc, TelegramRetryAfter):
            return float(exc.retry_after)
        return float(2 ** (attempt - 1))

    def _retryable(self, exc: BaseException) -> bool:
        # a flood wait longer than we are willing to hold a request is not waited out
        if isinstance(exc, TelegramRetryAfter):
            return exc.retry_after <= self.max_wait
        return isinstance(exc, TelegramServerError)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:  # the common case costs one call; the retry machinery only after a failure
            return await make_request(bot, method)
        except (TelegramRetryAfter, TelegramServerError) as exc:
            if not self._retryable(exc) or self.attempts < 2:
                raise
            failed: BaseException = exc
        first_wait = self._wait_after(failed, 1)
        _log_wait(method, first_wait, failed)
        await asyncio.sleep(first_wait)
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.attempts - 1),
            wait=self._wait,
            retry=retry_if_exception(self._retryable),
            before_sleep=lambda state: _log_wait(
                method, state.upcoming_sleep, state.outcome.exception() if state.outcome else None
            ),
            reraise=True,
        ):
            with attempt:
                result = await make_request(bot, method)
        return result


class SharedPace:
    """The pace kept in Redis, for every process sending as one bot (replicas of `etp serve`,
    `etp worker`, `etp telegram`): at most `burst` messages to a chat in any `burst / rate`
    seconds, and at most the bot's rate to all chats together in any second, counted over a
    moving window (the `limits` library; each count is one atomic Lua script in Redis)."""

    def __init__(
        self, redis_url: str, *, rate: float, burst: int, bot_rate: float, bot_id: str
    ) -> None:
        storage = RedisStorage(
            f"async+{redis_url}", implementation="redispy", key_prefix=f"etp:pace:{bot_id}"
        )
        self.limiter = MovingWindowRateLimiter(storage)
        self.chat_item = _window(burst, burst / rate)
        window = max(1, math.ceil(1 / bot_rate))
        self.bot_item = _window(max(1, math.floor(bot_rate * window)), window)

    async def take(self, chat: str, *, wait: bool = True) -> bool:
        """Count one message to `chat` (and to the bot), waiting for its turn unless not
        `wait`; False only when not waiting and the pace would have made it wait.

        A count is dated when it is taken, so both are taken together, just before the
        message leaves: first a wait (without counting) for the chat's turn, then the bot's
        count, then the chat's, almost always free by then (one process at a time sends to a
        chat: TelegramChannel.in_order). Counting the chat first and then waiting for the bot
        would let the chat's messages leave closer together than its pace."""
        while not await self.limiter.test(self.chat_item, "send", chat):
            if not wait:
                return False
            await self._sleep(self.chat_item, chat)
        if not await self._hit(self.bot_item, "bot", wait=wait):
            return False
        await self._hit(self.chat_item, chat, wait=True)
        return True

    async def _hit(self, item: RateLimitItem, key: str, *, wait: bool) -> bool:
        while not await self.limiter.hit(item, "send", key):
            if not wait:
                return False
            await self._sleep(item, key)
        return True

    async def _sleep(self, item: RateLimitItem, key: str) -> None:
        stats = await self.limiter.get_window_stats(item, "send", key)
        await asyncio.sleep(min(1.0, max(0.005, stats.reset_time - time.time())))


def _window(amount: int, seconds: float) -> RateLimitItem:
    return RateLimitItemPerSecond(amount, max(1, math.ceil(seconds)))


class ChatPacingMiddleware(BaseRequestMiddleware):
    """Keeps messages to each chat at about `rate` per second (bursts of `burst`), and to all
    chats together at about `bot_rate` per second, with aiolimiter; with `shared` (several
    processes sending as one bot) in Redis, falling back to this process's pace while Redis
    does not answer."""

    def __init__(
        self,
        *,
        rate: float = 1.0,
        burst: int = 3,
        bot_rate: float = 30.0,
        max_chats: int = 10_000,
        shared: SharedPace | None = None,
    ) -> None:
        self.shared = shared
        self.rate = rate
        self.burst = max(1, burst)
        self.max_chats = max_chats
        self._limiters: dict[str, AsyncLimiter] = {}
        # a bucket of at most 10: a full second's worth (30) on top of the rate would let
        # about twice the rate through in the first second
        bucket = min(max(1.0, bot_rate), 10.0)
        self._bot = AsyncLimiter(bucket, bucket / bot_rate)
        self._flood_until = 0.0  # loop time until which Telegram asked us to wait (a 429)
        # calls waiting for a chat's pace, and for the bot's: a call that could leave in a
        # webhook's answer must not overtake them (aiolimiter's capacity ignores its waiters)
        self._waiting: Counter[str] = Counter()
        self._waiting_for_bot = 0

    def _limiter(self, chat: str) -> AsyncLimiter:
        limiter = self._limiters.get(chat)
        if limiter is None:
            if len(self._limiters) >= self.max_chats:
                # forget chats whose bucket has drained: they would start afresh anyway
                idle = [
                    k
                    for k, v in self._limiters.items()
                    if v.has_capacity(self.burst) and not self._waiting[k]
                ]
                for key in idle:
                    del self._limiters[key]
            limiter = AsyncLimiter(self.burst, self.burst / self.rate)
            self._limiters[chat] = limiter
        return limiter

    async def take_now(self, method: TelegramMethod[Any]) -> bool:
        """Count `method` against the pace if that needs no wait; False when it would.

        For a call that leaves in a webhook's answer, which this middleware never sees."""
        chat = _paced_chat(method)
        if chat is None:
            return True
        limiter = self._limiter(chat)
        if self._waiting[chat] or self._waiting_for_bot:
            return False
        if asyncio.get_running_loop().time() < self._flood_until:
            return False  # a flood wait is under way: a 429 in an answer would be lost
        if self.shared is not None:
            taken = await self._shared_take(chat, wait=False)
            if taken is not None:
                return taken
        if not (limiter.has_capacity() and self._bot.has_capacity()):
            return False
        # with capacity, acquire() returns at once: nothing runs in between
        await limiter.acquire()
        await self._bot.acquire()
        return True

    async def _shared_take(self, chat: str, *, wait: bool) -> bool | None:
        """The shared pace's answer; None when Redis fails (this process's pace applies)."""
        assert self.shared is not None
        try:
            return await self.shared.take(chat, wait=wait)
        except Exception:
            log.warning("shared Telegram pace unavailable; pacing in this process", exc_info=True)
            return None

    async def _wait_turn(self, chat: str) -> None:
        if self.shared is not None and await self._shared_take(chat, wait=True):
            return
        await self._limiter(chat).acquire()
        # the chat's token is taken at its pace; a wait for the bot's may bring two of its
        # messages closer together, never more of them than the chat's burst
        self._waiting_for_bot += 1
        try:
            await self._bot.acquire()
        finally:
            self._waiting_for_bot -= 1

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        chat = _paced_chat(method)
        if chat is None:
            return await make_request(bot, method)
        self._waiting[chat] += 1
        try:
            await self._wait_turn(chat)
        finally:
            self._waiting[chat] -= 1
            if not self._waiting[chat]:
                del self._waiting[chat]
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as exc:
            loop_time = asyncio.get_running_loop().time()
            self._flood_until = max(self._flood_until, loop_time + exc.retry_after)
            raise


def _paced_chat(method: TelegramMethod[Any]) -> str | None:
    chat_id = getattr(method, "chat_id", None) if isinstance(method, PACED) else None
    return None if chat_id is None else str(chat_id)


def create_session(
    api_url: str | None, pacing: ChatPacingMiddleware, *, pool: int = 100
) -> AiohttpSession:
    """An aiohttp session for the official Bot API or `api_url`, with flood control handled."""
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(api_url), limit=pool)
        if api_url
        else AiohttpSession(limit=pool)
    )
    # registered first = outermost: a retry goes through the pacing again
    session.middleware(RetryAfterMiddleware())
    session.middleware(pacing)
    return session
