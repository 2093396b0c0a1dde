"""Where cached values and tag versions live: Redis, or this process's memory.

Tag versions are counters. One that is missing (never set, or evicted) starts at a random
63-bit epoch, whether it is read or bumped, never at 0 or 1: a counter that came back at
a number it had before would bring back the values cached under that number.

Redis calls have a short timeout. When Redis fails, the breaker opens for a while and
every call answers "not cached" at once, so requests are computed from PostgreSQL
without paying the timeout again; then it tries Redis again. Failures are counted and
logged at most once a minute.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import Protocol

import redis.asyncio as redis
from cachetools import TLRUCache
from redis.exceptions import RedisError

from app.cache.breaker import Breaker

log = logging.getLogger(__name__)


class Store(Protocol):
    async def get_many(self, keys: list[str]) -> list[bytes | None]: ...

    async def close(self) -> None: ...

    async def set(self, key: str, value: bytes, ttl: int) -> None: ...

    async def bump(self, keys: list[str]) -> bool:
        """Increment counters (tag versions); False if that could not be done."""

    async def start(self, keys: list[str]) -> list[bytes | None]:
        """The counters' values, a missing one set to a fresh epoch first; all None if
        the store could not be asked."""

    async def forget_containing(self, prefix: str, needles: list[bytes]) -> int | None:
        """Delete every entry under `prefix` whose key or value holds one of `needles`;
        how many, or None if the store could not be asked."""


def epoch() -> int:
    """Where a missing counter starts: far from any number it held before it went, and
    far enough below 2**63 that increments never overflow."""
    return secrets.randbits(62)


class NullStore:
    """No cache: every read misses. For several worker processes without Redis, whose
    separate memories could not be invalidated together."""

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        return [None] * len(keys)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        return None

    async def bump(self, keys: list[str]) -> bool:
        return True

    async def start(self, keys: list[str]) -> list[bytes | None]:
        return [b"0"] * len(keys)

    async def forget_containing(self, prefix: str, needles: list[bytes]) -> int | None:
        return 0

    async def close(self) -> None:
        return None


class MemoryStore:
    """An LRU with a TTL per entry, for one process without Redis. Tag versions never
    expire, but the LRU may still drop them (they then start at a fresh epoch)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._values: TLRUCache[str, tuple[float, bytes]] = TLRUCache(
            maxsize=max_entries, ttu=_until
        )

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        result: list[bytes | None] = []
        for key in keys:
            entry = self._values.get(key)
            result.append(None if entry is None else entry[1])
        return result

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        self._values[key] = (float(ttl), value)

    async def close(self) -> None:
        self._values.clear()

    async def forget_containing(self, prefix: str, needles: list[bytes]) -> int | None:
        found = [
            key
            for key, (_, value) in list(self._values.items())
            if key.startswith(prefix) and _holds(key.encode(), value, needles)
        ]
        for key in found:
            self._values.pop(key, None)
        return len(found)

    async def bump(self, keys: list[str]) -> bool:
        for key, current in zip(keys, await self.start(keys), strict=True):
            self._values[key] = (math.inf, str(int(current or b"0") + 1).encode())
        return True

    async def start(self, keys: list[str]) -> list[bytes | None]:
        values = await self.get_many(keys)
        for index, (key, value) in enumerate(zip(keys, values, strict=True)):
            if value is None:
                fresh = str(epoch()).encode()
                values[index] = fresh
                self._values[key] = (math.inf, fresh)
        return values


def _holds(key: bytes, value: bytes | None, needles: list[bytes]) -> bool:
    return any(needle in key or (value is not None and needle in value) for needle in needles)


def _until(key: str, entry: tuple[float, bytes], now: float) -> float:
    """When a MemoryStore entry expires: its TTL from now (infinite for tag versions)."""
    return now + entry[0]


class RedisStore:
    def __init__(self, url: str, *, timeout: float = 0.1, cooldown: float = 5.0) -> None:
        self._client = redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._breaker = Breaker(
            cooldown=cooldown, what="field cache, computing from PostgreSQL", logger=log
        )

    @property
    def errors(self) -> int:
        return self._breaker.errors

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        if not keys or self._is_open():
            return [None] * len(keys)
        try:
            values = await self._client.mget(keys)
            return [value.encode() if isinstance(value, str) else value for value in values]
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return [None] * len(keys)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        if self._is_open():
            return
        try:
            await self._client.set(key, value, ex=ttl)
        except (RedisError, OSError) as exc:
            self._failed(exc)

    async def bump(self, keys: list[str]) -> bool:
        if not keys:
            return True
        if self._is_open():
            return False
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, epoch(), nx=True)
                    pipe.incr(key)
                await pipe.execute()
            return True
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return False

    async def start(self, keys: list[str]) -> list[bytes | None]:
        if not keys:
            return []
        if self._is_open():
            return [None] * len(keys)
        try:
            # Concurrent readers of a missing version all read the one epoch whose SET NX
            # came first.
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, epoch(), nx=True)
                pipe.mget(keys)
                values = (await pipe.execute())[-1]
            return [value.encode() if isinstance(value, str) else value for value in values]
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return [None] * len(keys)

    async def forget_containing(self, prefix: str, needles: list[bytes]) -> int | None:
        """SCAN under prefix, reading values a batch at a time (erasure is rare; the scan
        is not fast on a large cache, but it is complete)."""
        forgotten = 0
        try:
            batch: list[bytes] = []
            async for key in self._client.scan_iter(match=_glob(prefix) + "*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    forgotten += await self._forget_batch(batch, needles)
                    batch = []
            if batch:
                forgotten += await self._forget_batch(batch, needles)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return None
        return forgotten

    async def _forget_batch(self, keys: list[bytes], needles: list[bytes]) -> int:
        values = await self._client.mget(keys)
        found = [
            key
            for key, value in zip(keys, values, strict=True)
            if _holds(key, value if isinstance(value, bytes | None) else value.encode(), needles)
        ]
        if found:
            await self._client.delete(*found)
        return len(found)

    def _is_open(self) -> bool:
        return self._breaker.is_open()

    def _failed(self, exc: BaseException) -> None:
        self._breaker.failed(exc)

    async def close(self) -> None:
        await self._client.aclose()


def _glob(prefix: str) -> str:
    """prefix as a literal part of a Redis MATCH pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix)
