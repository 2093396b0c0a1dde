"""GCRA (the generic cell rate algorithm) over cost per minute, per key.

A key may spend `rate` cost units a minute, and at most a minute's worth at once: its
theoretical arrival time (TAT) moves `cost * 60 / rate` seconds on per request, and a
request is admitted while the TAT it would leave stays within a minute of now. A request
charges all its keys (its token's and its address's) or none.

Redis holds the TATs, so every instance spends from the same budget. One Lua script
(GCRA_SCRIPT) checks and charges a request's keys atomically, on Redis' clock. Asking
Redis on every request costs a round trip, a large share of a small query's time, so by
default each process decides from its own copy of the TATs and sends what it charged to
Redis every RATE_LIMIT_SYNC_MS, reading back the TATs all instances left: a key can
overspend by what the instances admit within one sync. RATE_LIMIT_SYNC_MS=0 asks Redis
for every request instead.

When Redis fails, the breaker (app.cache.breaker) opens and this process's copy decides
alone until Redis answers again: the limit then holds per process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

import redis.asyncio as redis
from cachetools import LRUCache
from redis.exceptions import NoScriptError, RedisError

from app.cache.breaker import Breaker

log = logging.getLogger(__name__)

WINDOW = 60.0
"""Seconds of rate a key may spend at once (its burst)."""

# KEYS: the request's buckets. ARGV[1]: the cost; ARGV[2]: 1 to charge even over the
# limit (a sync of what was admitted already); ARGV[3..]: each key's seconds per cost
# unit, in microseconds. Returns {admitted, retry after ms, each key's TAT in ms}.
GCRA_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local window = 60000
local cost = tonumber(ARGV[1])
local force = ARGV[2] == '1'
local over = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat + cost * tonumber(ARGV[i + 2]) / 1000
  if tats[i] - now - window > over then over = tats[i] - now - window end
end
if over > 0 and not force then
  local result = {0, math.ceil(over)}
  for i = 1, #KEYS do
    local tat = tonumber(redis.call('GET', KEYS[i]) or now)
    result[i + 2] = math.floor(tat - now)
  end
  return result
end
local result = {1, 0}
for i, key in ipairs(KEYS) do
  local ttl = math.ceil(tats[i] - now) + 1000
  redis.call('SET', key, string.format('%.0f', tats[i]), 'PX', ttl)
  result[i + 2] = math.floor(tats[i] - now)
end
return result
"""


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    rate: float
    """Cost units per minute."""

    @property
    def interval(self) -> float:
        """Seconds per cost unit."""
        return WINDOW / self.rate


@dataclass(frozen=True, slots=True)
class Verdict:
    admitted: bool
    retry_after: float
    """Seconds until the same request would be admitted (0 when admitted)."""


class _Local:
    """TATs in this process's memory, on time.monotonic(), bounded by key count."""

    def __init__(self, max_keys: int) -> None:
        self.tats: LRUCache[str, float] = LRUCache(max_keys)

    def charge(self, buckets: list[Bucket], cost: float, now: float) -> Verdict:
        over = 0.0
        tats = []
        for bucket in buckets:
            tat = max(self.tats.get(bucket.key, now), now) + cost * bucket.interval
            tats.append(tat)
            over = max(over, tat - now - WINDOW)
        if over > 0:
            return Verdict(False, over)
        for bucket, tat in zip(buckets, tats, strict=True):
            self.tats[bucket.key] = tat
        return Verdict(True, 0.0)


class RateLimiter:
    """Admits or refuses a request's cost against its buckets; see the module docstring."""

    def __init__(
        self,
        redis_url: str | None,
        *,
        namespace: str,
        sync_seconds: float,
        timeout: float = 0.1,
        cooldown: float = 5.0,
        max_keys: int = 100_000,
    ) -> None:
        self.namespace = namespace
        self.sync_seconds = sync_seconds
        self._client = (
            redis.from_url(url=redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
            if redis_url
            else None
        )
        self._script = self._client.register_script(GCRA_SCRIPT) if self._client else None
        # The script's SHA once loaded: syncs send EVALSHA in a pipeline without asking
        # Redis whether the script is there each time.
        self._loaded: str | None = None
        self.breaker = Breaker(cooldown=cooldown, what="rate limits, deciding locally", logger=log)
        self._local = _Local(max_keys)
        # Cost charged locally and not yet sent to Redis, and each key's interval.
        self._pending: dict[str, tuple[float, float]] = {}
        self._synced_at = time.monotonic()
        self._sync: asyncio.Task[None] | None = None

    @property
    def shared(self) -> bool:
        """Whether Redis is deciding (False without Redis, or while it is failing)."""
        return self._script is not None and not self.breaker.is_open()

    async def charge(self, buckets: list[Bucket], cost: float) -> Verdict:
        if not buckets:
            return Verdict(True, 0.0)
        cost = max(cost, 1.0)
        if self.shared and self.sync_seconds == 0:
            verdict = await self._ask_redis(buckets, cost)
            if verdict is not None:
                return verdict
        now = time.monotonic()
        verdict = self._local.charge(buckets, cost, now)
        if verdict.admitted and self._script is not None:
            for bucket in buckets:
                spent, _ = self._pending.get(bucket.key, (0.0, 0.0))
                self._pending[bucket.key] = (spent + cost, bucket.interval)
            if now - self._synced_at >= self.sync_seconds and self._sync is None:
                self._synced_at = now
                self._sync = asyncio.create_task(self._send_pending())
        return verdict

    async def _ask_redis(self, buckets: list[Bucket], cost: float) -> Verdict | None:
        assert self._script is not None
        keys = [self._key(bucket.key) for bucket in buckets]
        args = [cost, 0, *(round(bucket.interval * 1e6) for bucket in buckets)]
        try:
            admitted, over_ms, *_ = await self._script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            return None
        return Verdict(bool(admitted), over_ms / 1000)

    async def _send_pending(self) -> None:
        """Charge Redis with what this process admitted, and take the TATs every
        instance left as this process's own."""
        try:
            pending, self._pending = self._pending, {}
            if not pending or self._script is None or self.breaker.is_open():
                return
            sent_at = time.monotonic()
            client = self._client
            assert client is not None
            try:
                if self._loaded is None:
                    self._loaded = str(await client.script_load(GCRA_SCRIPT))
                async with client.pipeline(transaction=False) as pipe:
                    for key, (spent, interval) in pending.items():
                        pipe.evalsha(
                            self._loaded, 1, self._key(key), spent, 1, round(interval * 1e6)
                        )
                    results = await pipe.execute()
            except NoScriptError:
                self._loaded = None  # Redis restarted or flushed its scripts: next time
                return
            except (RedisError, OSError) as exc:
                self.breaker.failed(exc)
                return
            for key, result in zip(pending, results, strict=True):
                # Redis' TAT, ahead of now by what every instance spent, plus what this
                # process admitted while the sync was on its way.
                spent_since, interval = self._pending.get(key, (0.0, 0.0))
                self._local.tats[key] = sent_at + result[2] / 1000 + spent_since * interval
        finally:
            self._sync = None

    def _key(self, key: str) -> str:
        return f"{self.namespace}:rate:{key}"

    async def close(self) -> None:
        if self._sync is not None:
            await asyncio.wait([self._sync], timeout=1)
        if self._client is not None:
            await self._client.aclose()


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, never 0 for a refusal."""
    return str(max(1, math.ceil(seconds)))


__all__ = ["GCRA_SCRIPT", "WINDOW", "Bucket", "RateLimiter", "Verdict", "retry_after_header"]
