"""Per-token rate limit with the `limits` library: in memory, or in Redis when REDIS_URL is set."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)


class TokenRateLimiter:
    """Counts requests per token; every rate of the setting ("10/second;1000/hour") applies."""

    def __init__(
        self,
        rate: str,
        redis_url: str | None,
        *,
        key_prefix: str = "etp:ratelimit",
        namespace: str = "api",
    ):
        self.namespace = namespace
        self.items: list[RateLimitItem] = parse_many(rate)
        storage: Storage = (
            RedisStorage(f"async+{redis_url}", implementation="redispy", key_prefix=key_prefix)
            if redis_url
            else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(storage)

    async def retry_after(self, key: str, *, count: bool = True) -> int | None:
        """Count one request; the seconds to wait when it is over the limit, else None.
        `count=False` only asks whether the key is over its limit now.

        The limit protects the service; if its storage fails, requests go through.
        """
        try:
            for item in self.items:
                allowed = (
                    await self.limiter.hit(item, self.namespace, key)
                    if count
                    else await self.limiter.test(item, self.namespace, key)
                )
                if not allowed:
                    stats = await self.limiter.get_window_stats(item, self.namespace, key)
                    return max(1, math.ceil(stats.reset_time - time.time()))
        except Exception:
            log.warning("rate limit storage failed; request allowed", exc_info=True)
        return None
