"""What several processes must agree on, in Redis: one holder of a role, one sender per chat.

Built on redis-py's Lock (a token-checked key with an expiry, released and extended by Lua),
so a process that dies gives its role and its chats up when the expiry passes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from conversations.service import MemoryLocks

log = logging.getLogger(__name__)


def holder_token() -> str:
    """Who holds a lock, readable by an operator: host, process and a unique suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """A role exactly one process holds (the Telegram poller): taken without waiting, renewed
    every third of `ttl` while held; `on_lost` is called if another process took it over
    (this one was stalled past the expiry, or Redis lost the key)."""

    def __init__(self, redis: Redis, name: str, *, ttl: float = 30.0) -> None:
        self.redis = redis
        self.name = name
        self.ttl = ttl
        self._lock = Lock(redis, name, timeout=ttl, blocking=False)
        self._renewing: asyncio.Task[None] | None = None

    async def acquire(self, on_lost: Callable[[], object] | None = None) -> str | None:
        """None once held; else who holds it (their token)."""
        if await self._lock.acquire(token=holder_token()):
            self._renewing = asyncio.create_task(self._renew(on_lost))
            return None
        holder = await self.redis.get(self.name)
        return holder.decode() if isinstance(holder, bytes) else str(holder or "?")

    async def _renew(self, on_lost: Callable[[], object] | None) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self._lock.reacquire()
            except LockError:
                log.error("lost %s to another process; stopping", self.name)
                if on_lost is not None:
                    on_lost()
                return
            except RedisError:
                log.warning("could not renew %s; trying again", self.name, exc_info=True)

    async def release(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with suppress(asyncio.CancelledError):
                await self._renewing
            self._renewing = None
        with suppress(LockError, RedisError):
            await self._lock.release()


class RedisLocks:
    """Per-key locks shared by every process on one Redis, with MemoryLocks' interface: the
    tasks of one process queue on a local lock first (in order, without polling Redis), and
    the winner takes the Redis lock. `lease`: how long a holder that died keeps the key."""

    def __init__(self, redis: Redis, prefix: str, *, lease: float = 120.0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.lease = lease
        self._local = MemoryLocks()
        self._releasing: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        release = await self.acquire(key)
        try:
            yield
        finally:
            release()

    async def acquire(self, key: str) -> Callable[[], None]:
        """Take `key`'s lock here and in Redis; the release may be called by another task."""
        release_local = await self._local.acquire(key)
        lock = Lock(self.redis, f"{self.prefix}:{key}", timeout=self.lease, sleep=0.01)
        try:
            held = await lock.acquire(token=holder_token())
        except RedisError:
            # ordering across processes is lost while Redis is down, not the reply
            log.warning("Redis lock %s unavailable; going on without it", key, exc_info=True)
            held = False
        except BaseException:
            release_local()
            raise

        def release() -> None:
            if not held:
                release_local()
                return
            # Redis first: the next task of this process then finds the key free at once
            task = asyncio.create_task(self._release(lock, release_local))
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)

        return release

    @staticmethod
    async def _release(lock: Lock, release_local: Callable[[], None]) -> None:
        try:
            with suppress(LockError, RedisError):
                await lock.release()
        finally:
            release_local()


async def take_turn(redis: Redis, name: str, seconds: float) -> bool:
    """Whether this process takes the turn `name` for the next `seconds`: one process of all
    does a periodic task (the stalled drafts' sweep) each period. The turn is never released,
    it expires; Redis down gives every process its turn (the task must be safe to repeat)."""
    lock = Lock(redis, name, timeout=seconds, blocking=False)
    try:
        return bool(await lock.acquire(token=holder_token()))
    except RedisError:
        return True
