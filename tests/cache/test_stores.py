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
    assert await store.bump(["t"])
    [first] = await store.get_many(["t"])
    assert await store.bump(["t"])
    assert await store.get_many(["t"]) == [str(int(first or b"") + 1).encode()]


async def test_a_cancelled_computation_does_not_cancel_its_waiters() -> None:
    import asyncio

    from app.cache.fields import FieldCache

    cache = FieldCache(MemoryStore(), namespace="t", schema_version="1")
    gate = asyncio.Event()
    computed: list[str] = []

    async def slow() -> int:
        computed.append("x")
        await gate.wait()
        return 7

    def ask() -> asyncio.Task[int]:
        return asyncio.ensure_future(
            cache.get_or_compute(
                type_name="T",
                field_name="f",
                parent_id=None,
                arguments={},
                viewer=None,
                tags=[],
                ttl=60,
                compute=slow,
                encode=lambda v: str(v).encode(),
                decode=lambda raw: int(raw),
            )
        )

    first = ask()
    await asyncio.sleep(0)
    waiters = [ask() for _ in range(3)]
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters) == [7, 7, 7]
    assert first.cancelled()


async def test_a_failed_invalidation_keeps_this_process_off_the_cache() -> None:
    from app.cache.fields import FieldCache

    store = RedisStore("redis://127.0.0.1:1/0", timeout=0.2, cooldown=0)
    cache = FieldCache(store, namespace="t", schema_version="1")
    try:
        await cache.invalidate(["product:1"])
        assert cache._pending == {"product:1"}
        value = await cache.get_or_compute(
            type_name="T",
            field_name="f",
            parent_id=None,
            arguments={},
            viewer=None,
            tags=["product:1"],
            ttl=60,
            compute=_seven,
            encode=lambda v: b"7",
            decode=lambda raw: 0,
        )
        assert value == 7
        assert cache.stats["errors"] == 1  # computed, the cache bypassed
    finally:
        await store.close()


async def _seven() -> int:
    return 7
