"""Choosing a store, and the breaker that stops paying Redis timeouts."""

from __future__ import annotations

from app.cache.store import MemoryStore, NullStore, RedisStore
from app.main import cache_store
from app.settings import Settings


def test_memory_only_for_a_single_worker_without_redis() -> None:
    assert isinstance(cache_store(Settings(web_concurrency=1)), MemoryStore)
    assert isinstance(cache_store(Settings(web_concurrency=2)), NullStore)
    assert isinstance(cache_store(Settings(field_cache=False)), NullStore)
    assert isinstance(cache_store(Settings(redis_url="redis://127.0.0.1:6379/0")), RedisStore)


async def test_the_breaker_stops_asking_a_dead_redis() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", timeout=0.2, cooldown=30)
    try:
        assert await store.get_many(["a"]) == [None]
        assert store.errors == 1
        for _ in range(50):
            assert await store.get_many(["a"]) == [None]
        assert store.errors == 1  # the breaker answered; Redis was not asked again
    finally:
        await store.close()


async def test_memory_store_expires_and_bumps() -> None:
    store = MemoryStore()
    await store.set("k", b"v", ttl=0)
    assert await store.get_many(["k"]) == [None]
    assert await store.bump(["t", "t"])
    assert await store.get_many(["t"]) == [b"2"]
