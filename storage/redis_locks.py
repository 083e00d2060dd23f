"""Conversation locks on Redis, shared by every process; the database row lock stays the guarantee."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

from conversations.service import MemoryLocks

log = logging.getLogger(__name__)


class RedisLocks:
    """A Redis lock per conversation; if Redis blinks, fall back to this process's locks."""

    def __init__(self, client: Redis, *, prefix: str = "etp:lock:", timeout: float = 30.0) -> None:
        self.client = client
        self.prefix = prefix
        self.timeout = timeout
        self.local = MemoryLocks()

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        async with self.local.hold(key):
            lock = self.client.lock(
                self.prefix + key, timeout=self.timeout, blocking_timeout=self.timeout
            )
            try:
                acquired = await lock.acquire()
            except RedisError:
                log.warning("redis lock unavailable for %s; relying on the database lock", key)
                acquired = False
            try:
                yield
            finally:
                if acquired:
                    try:
                        await lock.release()
                    except (LockError, RedisError):
                        log.warning("redis lock for %s expired or could not be released", key)
