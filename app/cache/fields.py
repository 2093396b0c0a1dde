"""The field cache: versioned tags make a write's invalidation exact.

A cached value's key carries the current version of each tag it depends on
(`product:ID:sales`, `user:ID:orders`, ...) and of the global tag `all`. A committed
write bumps its tags before its response is sent, so every read that starts after the
response builds a new key: it cannot see the old value, even one that a slow miss wrote
back after the bump (that one sits under the old key, which nobody asks for again).
If a bump fails (Redis away), the next successful call bumps `all` before anything is
read from the cache again. A tag version that is missing (evicted) is started at a random
epoch before it is used (see cache.store), so it cannot fall back to an old number; one
the store cannot tell is UNKNOWN, and nothing is read or stored under it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from aiodataloader import DataLoader
from cachetools import LRUCache

from app.cache.keys import field_key, tag_key
from app.cache.store import Store
from app.cache.tags import tags_of

T = TypeVar("T")
ALL = "all"
DECODED_MAX = 1024
UNKNOWN = -1  # a tag version the store could not tell (epochs are never negative)


class Reads:
    """One request's cache reads, batched: all tag versions wanted in one tick are one
    MGET, all values another, so a page of cached fields costs two round trips."""

    def __init__(self, store: Store) -> None:
        async def get_many(keys: list[str]) -> list[bytes | None]:
            return await store.get_many(keys)

        async def start(keys: list[str]) -> list[bytes | None]:
            return await store.start(keys)

        self._loader = DataLoader(get_many, cache=False)
        self._starts = DataLoader(start, cache=False)

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._loader.load(key)
        return value

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        values: list[bytes | None] = await self._loader.load_many(list(keys))
        return values

    async def start(self, keys: Sequence[str]) -> list[bytes | None]:
        """Missing tag versions started at fresh epochs (Store.start), batched too."""
        values: list[bytes | None] = await self._starts.load_many(list(keys))
        return values


class FieldCache:
    def __init__(
        self, store: Store, *, namespace: str, schema_version: str, enabled: bool = True
    ) -> None:
        """`namespace` keeps databases sharing one Redis apart. Disabled (FIELD_CACHE=false),
        every read computes its own value: nothing stored, nothing shared between
        concurrent requests either."""
        self.store = store
        self.enabled = enabled
        self.namespace = namespace
        self.schema_version = schema_version
        self.stats: Counter[str] = Counter()
        self._inflight: dict[str, asyncio.Future[bytes]] = {}
        self._pending: set[str] = set()  # tags whose bump failed; retried
        self._dirty = 0  # failed bumps not yet covered by a bump of `all`
        # Decoded values of recent hits, by key, with the bytes they came from: a hot
        # value is decoded once, not per request. Decoders return immutable values.
        self._decoded: LRUCache[str, tuple[bytes, Any]] = LRUCache(maxsize=DECODED_MAX)

    async def get_or_compute(
        self,
        *,
        type_name: str,
        field_name: str,
        parent_id: str | None,
        arguments: Mapping[str, Any],
        viewer: uuid.UUID | None,
        tags: Sequence[str],
        ttl: int,
        compute: Callable[[], Awaitable[T]],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
        reads: Reads | None = None,
        outcome: Callable[[str], None] = lambda _: None,
    ) -> T:
        """The value, from the cache or computed; `outcome` hears which it was."""
        if not self.enabled:
            outcome("bypass")
            return await compute()
        reads = reads or Reads(self.store)
        versions = await self._versions(tags, reads)
        if versions is None:
            self.stats["errors"] += 1
            outcome("bypass")
            return await compute()
        key = field_key(
            namespace=self.namespace,
            schema_version=self.schema_version,
            type_name=type_name,
            field_name=field_name,
            parent_id=parent_id,
            arguments=arguments,
            viewer=viewer,
            tag_versions=versions,
        )
        # Versions unknown (the store failed): nothing is read or stored under such a key,
        # but identical requests of this process still share one computation.
        known = UNKNOWN not in versions
        if not known:
            self.stats["errors"] += 1
        cached = await reads.get(key) if known else None
        if cached is not None:
            self.stats["hits"] += 1
            outcome("hit")
            return self._decode(key, cached, decode)
        waiting = self._inflight.get(key)
        if waiting is not None:
            # Someone in this process is computing this key: wait for theirs.
            try:
                raw = await asyncio.shield(waiting)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # we were cancelled ourselves
                # Theirs was cancelled (its client left): compute it ourselves.
            else:
                self.stats["coalesced"] += 1
                outcome("coalesced")
                return decode(raw)
        self.stats["misses"] += 1
        outcome("miss")
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await compute()
            raw = encode(value)
            future.set_result(raw)
            if known:
                await self.store.set(key, raw, ttl)
            return value
        except asyncio.CancelledError:
            future.cancel()  # waiters compute it themselves
            raise
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: waiting callers get it, nobody else
            raise
        finally:
            self._inflight.pop(key, None)

    def _decode(self, key: str, raw: bytes, decode: Callable[[bytes], T]) -> T:
        memo = self._decoded.get(key)
        if memo is not None and memo[0] == raw:
            value: T = memo[1]
            return value
        value = decode(raw)
        self._decoded[key] = (raw, value)
        return value

    async def invalidate(self, tags: Sequence[str]) -> None:
        """Bump the tags of a committed write; call before its response is sent.

        A bump that fails is kept and retried (`retry_pending`, which the relay calls), and
        until one succeeds this process reads nothing from the cache.
        """
        if not tags and not self._pending:
            return
        self.stats["invalidations"] += len(tags)
        wanted = sorted(set(tags) | self._pending)
        if await self.store.bump([tag_key(self.namespace, tag) for tag in wanted]):
            self._pending.clear()
        else:
            self._pending.update(tags)
            self._dirty += 1

    async def forget_containing(self, needles: Sequence[str]) -> int | None:
        """Delete every cached value of this namespace that holds one of `needles` (an
        erased person's email or name), as text or as it reads inside JSON; how many, or
        None when the store could not be asked. Tags already bumped keep the rest out of
        reach; this takes the bytes themselves away."""
        self._decoded.clear()
        forms: set[bytes] = set()
        for needle in needles:
            forms.add(needle.encode())
            forms.add(orjson.dumps(needle)[1:-1])
        return await self.store.forget_containing(f"{self.namespace}:", sorted(forms))

    async def invalidate_events(self, events: Sequence[Any]) -> None:
        """The relay's durable second pass: bump the tags of every committed change it
        moves (whichever process made it) and retry any bump that failed before."""
        await self.invalidate(
            sorted(
                tags_of(
                    {
                        "topic": e.topic,
                        "type": e.type,
                        "entity_id": e.entity_id,
                        "owner_id": e.owner_id,
                        "changed_fields": e.changed_fields,
                    }
                    for e in events
                )
            )
        )
        await self.retry_pending()

    async def retry_pending(self) -> None:
        if self._pending:
            await self.invalidate([])  # an empty call still retries what is pending
        if self._pending or not self._dirty:
            return
        dirty = self._dirty
        if await self.store.bump([tag_key(self.namespace, ALL)]):
            self._dirty -= dirty

    async def _versions(self, tags: Sequence[str], reads: Reads) -> list[int] | None:
        if self._pending or self._dirty:
            await self.retry_pending()
            if self._pending or self._dirty:
                return None
        keys = [tag_key(self.namespace, tag) for tag in (ALL, *tags)]
        raw = await reads.get_many(keys)
        missing = [index for index, value in enumerate(raw) if value is None]
        if missing:
            started = await reads.start([keys[index] for index in missing])
            for index, value in zip(missing, started, strict=True):
                raw[index] = value
        return [UNKNOWN if value is None else int(value) for value in raw]
