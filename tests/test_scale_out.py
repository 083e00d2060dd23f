"""Several processes as one service: Telegram's pace, each chat's order, the single poller and
the API rate limit hold across them (real processes sharing the test Redis)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from api.ratelimit import TokenRateLimiter
from bot.telegram import build_telegram
from bot.telegram.app import WebhookIsSet
from etp.settings import TelegramSettings
from storage.coordination import Lease, RedisLocks
from tests.conftest import REDIS_TEST_URL, need_service
from tests.helpers import make_app, override
from tests.telegram_api import TOKEN, FakeBotApi, Updates

ETP_BIN = Path(sys.executable).parent / "etp"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    url = httpx.URL(REDIS_TEST_URL)
    need_service("Redis", url.host, url.port or 6379)
    client = Redis.from_url(REDIS_TEST_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


# --- Telegram's pace, shared by three processes --------------------------------------------

SENDER = """
import asyncio, json, sys, time
from aiogram import Bot
from bot.telegram.session import ChatPacingMiddleware, SharedPace, create_session

api_url, redis_url, bot_id, me, start_at = sys.argv[1:6]
released = []  # (time, chat) each message left the pacing for the network

async def record(make_request, bot, method):
    released.append((time.time(), str(method.chat_id)))
    return await make_request(bot, method)

async def main() -> None:
    shared = SharedPace(redis_url, rate=3.0, burst=3, bot_rate=10.0, bot_id=bot_id)
    pacing = ChatPacingMiddleware(rate=3.0, bot_rate=10.0, shared=shared)
    session = create_session(api_url, pacing)
    session.middleware(record)  # innermost: after the pace
    bot = Bot(sys.argv[6], session=session)

    async def chat(chat_id: int, n: int) -> None:
        for i in range(n):
            await bot.send_message(chat_id, f"{me}-{i}")

    await asyncio.sleep(max(0.0, float(start_at) - time.time()))  # all three burst together
    own = (chat(1000 + int(me) * 100 + k, 1) for k in range(12))
    await asyncio.gather(chat(42, 6), *own)
    await bot.session.close()
    print(json.dumps(released))

asyncio.run(main())
"""


def _most_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


async def test_three_processes_bursting_keep_the_bot_and_chat_rates_together(
    redis: Redis, bot_api: FakeBotApi
) -> None:
    bot_id = f"test-{uuid.uuid4().hex[:8]}"  # a pace of its own in the shared Redis
    start_at = str(time.time() + 5)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    senders = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SENDER,
            bot_api.url,
            REDIS_TEST_URL,
            bot_id,
            str(me),
            start_at,
            TOKEN,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for me in range(3)
    ]
    released: list[tuple[float, str]] = []
    for sender in senders:
        out, err = await asyncio.wait_for(sender.communicate(), 120)
        assert sender.returncode == 0, err.decode()
        assert b"unavailable" not in err  # no fallback to a process's own pace
        released += [(t, chat) for t, chat in json.loads(out)]
    assert len(released) == 3 * (6 + 12)
    # when the messages left the three processes (one clock: the same machine). Redis counts
    # a window from the moment of each count; read here up to tens of milliseconds later on a
    # busy machine, a burst just after a full second can meet the one before it, so windows
    # of 0.8 s. Each process on its own pace would have sent 10 in the first of them, 3 to
    # chat 42.
    everything = [t for t, _ in released]
    to_42 = [t for t, chat in released if chat == "42"]
    assert _most_in_window(everything, 0.8) <= 10  # the bot's rate, all processes together
    assert _most_in_window(to_42, 0.8) <= 3  # one chat: bursts of 3, 3 a second
    # and nothing was lost or sent twice
    assert sorted(c.text for c in bot_api.sent()) == sorted(
        [f"{me}-{i}" for me in range(3) for i in range(6)] + [f"{me}-0" for me in range(3)] * 12
    )


# --- each chat's order: one process sends to a chat at a time --------------------------------


async def test_a_chats_order_lock_is_shared_by_processes_and_freed_if_its_holder_dies(
    redis: Redis,
) -> None:
    prefix = f"etp-test-order-{uuid.uuid4().hex[:8]}"
    # two processes: two clients, two lock tables
    other = Redis.from_url(REDIS_TEST_URL)
    first, second = RedisLocks(redis, prefix), RedisLocks(other, prefix, lease=1.0)
    try:
        events: list[str] = []
        release = await first.acquire("42")

        async def later() -> None:
            async with second.hold("42"):
                events.append("second sends")

        waiting = asyncio.create_task(later())
        await asyncio.sleep(0.3)
        events.append("first still sending")
        release()
        await asyncio.wait_for(waiting, 10)
        assert events == ["first still sending", "second sends"]
        async with second.hold("43"):  # another chat is not held up
            pass

        # a holder that dies (never releases) keeps the chat for its lease only
        await second.acquire("44")
        await asyncio.wait_for(first.acquire("44"), 10)
    finally:
        await other.aclose()


# --- the single poller ----------------------------------------------------------------------


def _telegram_env(tmp_path: Path, bot_api: FakeBotApi, redis_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'etp.db'}",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": bot_api.url,
        "LLM_PROVIDER": "offline",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


async def _etp_telegram(
    env: dict[str, str], tmp_path: Path, *args: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        "telegram",
        "--no-worker",
        *args,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_a_second_poller_refuses_to_start_while_one_polls(
    redis: Redis, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    lease = f"etp:telegram:poller:{TOKEN.split(':')[0]}"
    await redis.delete(lease)
    env = _telegram_env(tmp_path, bot_api, REDIS_TEST_URL)
    first = await _etp_telegram(env, tmp_path)
    try:
        await bot_api.wait_for(lambda api: bool(api.sent("setMyCommands")))  # it polls
        second = await _etp_telegram(env, tmp_path)
        _, err = await asyncio.wait_for(second.communicate(), 120)
        assert second.returncode == 2
        message = err.decode()
        assert "another etp telegram already polls for this bot" in message
        assert "Traceback" not in message
        assert len(bot_api.sent("setMyCommands")) == 1  # the second one did nothing
    finally:
        first.terminate()
        _, err = await asyncio.wait_for(first.communicate(), 60)
    assert first.returncode == 0, err.decode()
    assert not await redis.exists(lease)  # given up on a clean stop: the next one may poll


async def test_telegram_refuses_to_poll_while_a_webhook_is_set(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    bot_api.webhook = "https://etp.example.gov.br/telegram/webhook"
    process = await _etp_telegram(_telegram_env(tmp_path, bot_api, None), tmp_path)
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 2
    message = err.decode()
    assert "https://etp.example.gov.br/telegram/webhook" in message
    assert "--delete-webhook" in message and "Traceback" not in message
    assert not bot_api.sent("deleteWebhook")
    assert bot_api.webhook == "https://etp.example.gov.br/telegram/webhook"


async def test_delete_webhook_removes_it_and_polls(sqlite_url: str, bot_api: FakeBotApi) -> None:
    bot_api.webhook = "https://etp.example.gov.br/telegram/webhook"
    app = await make_app(sqlite_url)
    override(
        app.settings,
        telegram=TelegramSettings(telegram_bot_token=TOKEN, telegram_api_url=bot_api.url),
    )
    telegram = build_telegram(app)
    try:
        with pytest.raises(WebhookIsSet):
            await telegram.run_polling(handle_signals=False)
        polling = asyncio.create_task(
            telegram.run_polling(handle_signals=False, delete_webhook=True)
        )
        await bot_api.push_update(Updates().message("/start"))
        await bot_api.wait_for(lambda api: bool(api.texts()))  # it polls
        assert bot_api.webhook == ""
        await telegram.stop_polling()
        await polling
    finally:
        await app.close()


async def test_lease_is_held_by_one_and_renewed(redis: Redis) -> None:
    name = f"etp-test-lease-{uuid.uuid4().hex[:8]}"
    one, two = Lease(redis, name, ttl=0.6), Lease(redis, name, ttl=0.6)
    assert await one.acquire() is None
    await asyncio.sleep(1.0)  # past its ttl: renewed meanwhile
    holder = await two.acquire()
    assert holder is not None and str(os.getpid()) in holder
    await one.release()
    assert await two.acquire() is None
    await two.release()


# --- the admin API's rate limit ---------------------------------------------------------------


async def test_api_rate_limit_is_counted_once_for_every_replica(redis: Redis) -> None:
    prefix = f"etp-test-{uuid.uuid4().hex}"
    replicas = [TokenRateLimiter("3/minute", REDIS_TEST_URL, key_prefix=prefix) for _ in range(3)]
    answers = [await replicas[i % 3].retry_after("token-1") for i in range(4)]
    assert answers[:3] == [None, None, None]
    assert answers[3] is not None and answers[3] >= 1
