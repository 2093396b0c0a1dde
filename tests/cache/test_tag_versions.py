"""Tag versions that go missing (Redis evicts them, or the memory store's LRU does) do
not fall back to a number that old values were cached under."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import redis.asyncio as redis

from app.cache.fields import FieldCache
from app.cache.keys import tag_key
from app.cache.store import MemoryStore, RedisStore
from tests.redis_server import find_redis

TAG = "product:1"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with find_redis() as url:
        yield url


@pytest.fixture
async def namespace(redis_url: str) -> AsyncIterator[str]:
    name = f"tags-{uuid.uuid4().hex}"
    yield name
    client = redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{name}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def reader(cache: FieldCache) -> Callable[[], Awaitable[bytes]]:
    """Reads of one cached field tagged TAG; each computation answers the next value."""
    answers = iter([b"old", b"new", b"newer"])

    async def compute() -> bytes:
        return next(answers)

    async def read() -> bytes:
        return await cache.get_or_compute(
            type_name="Query",
            field_name="f",
            parent_id=None,
            arguments={},
            viewer=None,
            tags=[TAG],
            ttl=60,
            compute=compute,
            encode=lambda value: value,
            decode=lambda raw: raw,
        )

    return read


async def test_an_evicted_tag_version_does_not_bring_back_an_old_value(
    redis_url: str, namespace: str
) -> None:
    store = RedisStore(redis_url)
    client = redis.from_url(redis_url)
    cache = FieldCache(store, namespace=namespace, schema_version="t")
    read = reader(cache)
    try:
        assert await read() == b"old"
        assert await read() == b"old"  # cached
        await cache.invalidate([TAG])
        await client.delete(tag_key(namespace, TAG))  # evicted
        assert await read() == b"new"
    finally:
        await client.aclose()
        await store.close()


async def test_a_tag_bumped_after_eviction_does_not_restart_at_a_used_number(
    redis_url: str, namespace: str
) -> None:
    store = RedisStore(redis_url)
    client = redis.from_url(redis_url)
    cache = FieldCache(store, namespace=namespace, schema_version="t")
    read = reader(cache)
    try:
        assert await read() == b"old"
        for expected in (b"new", b"newer"):
            await client.delete(tag_key(namespace, TAG))  # evicted...
            await cache.invalidate([TAG])  # ...then a write bumps it
            assert await read() == expected
    finally:
        await client.aclose()
        await store.close()


async def test_the_memory_store_lru_evicting_a_tag_does_not_bring_back_an_old_value() -> None:
    store = MemoryStore()
    cache = FieldCache(store, namespace="m", schema_version="t")
    read = reader(cache)
    assert await read() == b"old"
    await cache.invalidate([TAG])
    # What the LRU does to its oldest entry, done to the tag version alone (the cached
    # value stays, as it would if it had been read more recently).
    del store._values[tag_key("m", TAG)]
    assert await read() == b"new"


async def test_a_missing_tag_version_starts_at_a_random_epoch(
    redis_url: str, namespace: str
) -> None:
    store = RedisStore(redis_url)
    try:
        keys = [f"{namespace}:tag:a", f"{namespace}:tag:b"]
        first = await store.start(keys)
        assert await store.start(keys) == first  # started once, then read
        numbers = [int(value or b"0") for value in first]
        assert numbers[0] != numbers[1]
        assert all(2**20 < number < 2**62 for number in numbers)
    finally:
        await store.close()
