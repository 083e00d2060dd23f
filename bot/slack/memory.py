"""Short-lived facts the Slack channel keeps: Redis when configured, else this process's memory."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from cachetools import TTLCache
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class Memo(Protocol):
    """A string key-value store whose entries expire."""

    async def get(self, key: str) -> str | None:
        """The value, or None when absent or expired."""

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store the value for `ttl` seconds."""

    async def claim(self, key: str, value: str, ttl: int) -> bool:
        """Store the value for `ttl` seconds only if the key has none; whether it did (one
        caller wins, however many ask at once)."""

    async def forget(self, key: str) -> None:
        """Remove the key's value."""


class LocalMemo:
    """One process's memory (the embedded default)."""

    def __init__(self, maxsize: int = 50_000, ttl: int = 86_400) -> None:
        self._cache: TTLCache[str, str] = TTLCache(maxsize=maxsize, ttl=ttl)

    async def get(self, key: str) -> str | None:
        return self._cache.get(key)

    async def set(self, key: str, value: str, ttl: int) -> None:
        self._cache[key] = value  # one TTL for all entries: the longest any caller asks for

    async def claim(self, key: str, value: str, ttl: int) -> bool:
        if key in self._cache:  # no await between the test and the set: atomic in the loop
            return False
        self._cache[key] = value
        return True

    async def forget(self, key: str) -> None:
        self._cache.pop(key, None)


class RedisMemo:
    """Shared by every process (HTTP server, Socket Mode, workers); memory while Redis is down."""

    def __init__(self, redis: Redis, prefix: str = "etp:slack:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._local = LocalMemo()

    async def get(self, key: str) -> str | None:
        try:
            value = await self._redis.get(self._prefix + key)
        except RedisError:
            log.warning("redis unavailable; reading %s from this process's memory", key)
            return await self._local.get(key)
        if value is None:
            return await self._local.get(key)
        return value.decode() if isinstance(value, bytes) else str(value)

    async def set(self, key: str, value: str, ttl: int) -> None:
        try:
            await self._redis.set(self._prefix + key, value, ex=ttl)
        except RedisError:
            log.warning("redis unavailable; keeping %s in this process's memory", key)
            await self._local.set(key, value, ttl)

    async def claim(self, key: str, value: str, ttl: int) -> bool:
        try:
            return bool(await self._redis.set(self._prefix + key, value, ex=ttl, nx=True))
        except RedisError:
            log.warning("redis unavailable; claiming %s in this process's memory", key)
            return await self._local.claim(key, value, ttl)

    async def forget(self, key: str) -> None:
        await self._local.forget(key)
        try:
            await self._redis.delete(self._prefix + key)
        except RedisError:
            log.warning("redis unavailable; %s is left to expire", key)


class DraftMessages:
    """Where each "redigindo…" message is, by draft job id, so the finished draft replaces it.

    The draft job may finish before the message is even posted; `find` waits a little for it.
    """

    TTL = 86_400

    def __init__(self, memo: Memo) -> None:
        self._memo = memo
        self._posted: TTLCache[str, asyncio.Event] = TTLCache(maxsize=10_000, ttl=600)

    def _event(self, job_id: str) -> asyncio.Event:
        event = self._posted.get(job_id)
        if event is None:
            event = self._posted[job_id] = asyncio.Event()
        return event

    async def remember(self, job_id: str, channel: str, ts: str) -> None:
        await self._memo.set(f"draft:{job_id}", f"{channel} {ts}", self.TTL)
        self._event(job_id).set()

    async def find(self, job_id: str, wait: float) -> tuple[str, str] | None:
        ref = await self._memo.get(f"draft:{job_id}")
        if ref is None:
            try:
                async with asyncio.timeout(wait):
                    await self._event(job_id).wait()
            except TimeoutError:
                pass
            ref = await self._memo.get(f"draft:{job_id}")
        self._posted.pop(job_id, None)
        if ref is None:
            return None
        channel, _, ts = ref.partition(" ")
        return channel, ts
