"""Counting requests per sender and per address in fixed windows, shared by every replica.

With HOTLINE_REDIS_URL the counts are Redis keys (INCR + EXPIRE), so a sender who spreads
requests over replicas is counted once; without it, or while Redis cannot be reached, each
process counts alone (a warning is logged; a limit is never a reason to fail a request).
Keys are hashed: no sender id, phone-derived id or address is written to Redis.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

PREFIX = "hotline:rate:"
RETRY_REDIS_SECONDS = 30.0  # after a Redis failure, count locally this long before trying again


@dataclass(frozen=True)
class Rule:
    """At most `limit` requests of one key per `window` seconds; limit 0 turns the rule off."""

    bucket: str  # what is counted, e.g. "chat:sender"
    limit: int
    window: int = 60


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self._redis_url = redis_url
        self._redis: aioredis.Redis | None = None
        self._redis_down_until = 0.0
        self._local: dict[str, int] = {}
        self._lock = threading.Lock()

    async def hit(self, rule: Rule, key: str) -> float | None:
        """Count one request of `key`; None when allowed, else the seconds until it is again."""
        if rule.limit <= 0:
            return None
        now = time.time()
        window_start = math.floor(now / rule.window) * rule.window
        digest = hashlib.sha256(f"{rule.bucket}\0{key}".encode()).hexdigest()[:32]
        name = f"{PREFIX}{rule.bucket}:{digest}:{window_start}"
        count = await self._count_shared(name, rule.window)
        if count is None:
            count = self._count_local(name, window_start, now)
        if count <= rule.limit:
            return None
        return max(1.0, window_start + rule.window - now)

    async def _count_shared(self, name: str, window: int) -> int | None:
        if not self._redis_url or time.monotonic() < self._redis_down_until:
            return None
        try:
            if self._redis is None:
                self._redis = aioredis.from_url(
                    self._redis_url, socket_connect_timeout=0.5, socket_timeout=0.5
                )
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window + 1)
                count, _ = await pipe.execute()
            return int(count)
        except (redis.RedisError, OSError) as exc:
            self._redis_down_until = time.monotonic() + RETRY_REDIS_SECONDS
            self._redis = None
            log.warning(
                "rate limits: Redis unreachable (%s); counting per process for %.0f s",
                type(exc).__name__, RETRY_REDIS_SECONDS,
            )  # fmt: skip
            return None

    def _count_local(self, name: str, window_start: float, now: float) -> int:
        with self._lock:
            if len(self._local) > 10_000:  # forget finished windows now and then
                self._local = {
                    k: v for k, v in self._local.items() if float(k.rsplit(":", 1)[1]) > now - 3600
                }
            self._local[name] = self._local.get(name, 0) + 1
            return self._local[name]
