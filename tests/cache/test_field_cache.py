"""The field cache against a real Redis: hits, keys, invalidation, privacy, stampedes,
and Redis trouble."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from app.cache.fields import FieldCache
from app.cache.store import RedisStore
from tests.conftest import Api, running_app
from tests.dbtools import fetch_one
from tests.graphql.mutations import PLACE_ORDER, UPDATE_PRODUCT
from tests.helpers import gid
from tests.redis_server import find_redis

SALES = "{ products(first: 5) { edges { node { id salesStats { unitsSold revenue } } } } }"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with find_redis() as url:
        yield url


@pytest.fixture
async def capi(wapi: Api, redis_url: str) -> AsyncIterator[Api]:
    """An admin's client on a database of the test's own, caching in Redis."""
    async with running_app(wapi.url, redis_url=redis_url) as api:
        yield api


def stats_of(api: Api) -> dict[str, int]:
    app = api.client._transport.app  # type: ignore[attr-defined]
    return dict(app.state.field_cache.stats)


async def test_a_repeated_read_is_served_from_the_cache(capi: Api) -> None:
    first = await capi.counted(SALES)
    cold = len(capi.statements.statements)
    second = await capi.counted(SALES)
    assert second == first
    assert cold == 2  # the page, and the sales of the page in one statement
    assert capi.statements.statements == []  # the page and the sales, all from the cache
    assert stats_of(capi)["hits"] == 6  # the page, and five salesStats


async def test_argument_order_and_defaults_share_a_key(capi: Api) -> None:
    await capi.counted("{ topProducts(limit: 3, since: null) { sales { unitsSold } } }")
    await capi.counted("{ topProducts(since: null, limit: 3) { sales { unitsSold } } }")
    await capi.counted("{ topProducts(limit: 3) { sales { unitsSold } } }")
    stats = stats_of(capi)
    assert stats["misses"] == 1
    assert stats["hits"] == 2
    await capi.counted("{ topProducts(limit: 4) { sales { unitsSold } } }")
    assert stats_of(capi)["misses"] == 2


async def test_a_write_on_another_instance_is_seen_at_once(capi: Api, redis_url: str) -> None:
    product = await fetch_one(
        capi.url, "SELECT id FROM products WHERE stock > 0 ORDER BY sku LIMIT 1"
    )
    query = "query($id: ID!) { product(id: $id) { salesStats { unitsSold } } }"
    variables = {"id": gid("Product", product.id)}
    before = (await capi.data(query, variables))["product"]["salesStats"]["unitsSold"]
    assert (await capi.data(query, variables))["product"]["salesStats"]["unitsSold"] == before
    async with running_app(capi.url, redis_url=redis_url) as other:
        payload = (
            await other.data(
                PLACE_ORDER,
                {
                    "input": {
                        "items": [{"productId": variables["id"], "quantity": 2}],
                        "idempotencyKey": "cache-1",
                    }
                },
            )
        )["placeOrder"]
        assert payload["errors"] == []
    after = (await capi.data(query, variables))["product"]["salesStats"]["unitsSold"]
    assert after == before + 2


async def test_private_values_are_kept_per_viewer(capi: Api) -> None:
    query = "{ viewer { orderStats { count } } }"
    alice = await capi.as_user("user000000@example.com")
    bob = await capi.as_user("user000001@example.com")
    product = await fetch_one(capi.url, "SELECT id FROM products WHERE stock > 0 LIMIT 1")
    await alice.data(
        PLACE_ORDER,
        {
            "input": {
                "items": [{"productId": gid("Product", product.id), "quantity": 1}],
                "idempotencyKey": "alice-2",
            }
        },
    )
    assert (await alice.data(query))["viewer"]["orderStats"]["count"] == 2
    assert (await bob.data(query))["viewer"]["orderStats"]["count"] == 1
    assert (await alice.data(query))["viewer"]["orderStats"]["count"] == 2
    assert (await bob.data(query))["viewer"]["orderStats"]["count"] == 1
    stats = stats_of(capi)
    assert stats["misses"] == 2
    assert stats["hits"] == 2
    # The same user's figures asked by an admin are another viewer's entry, not a hit.
    alice_id = await fetch_one(
        capi.url, "SELECT id FROM users WHERE email = 'user000000@example.com'"
    )
    by_admin = await capi.data(
        "query($id: ID!) { user(id: $id) { orderStats { count } } }",
        {"id": gid("User", alice_id.id)},
    )
    assert by_admin["user"]["orderStats"]["count"] == 2
    assert stats_of(capi)["misses"] == 3


async def test_a_hundred_cold_misses_compute_once(capi: Api, redis_url: str) -> None:
    query = "{ topProducts(limit: 7) { sales { unitsSold } } }"
    # A Redis that answers: a hundred new connections at once can take longer than the
    # production timeout (0.1 s) on a busy test machine, and a read whose tag versions
    # time out is computed on its own (UNKNOWN), which is right but not this test's case.
    cache = capi.client._transport.app.state.field_cache  # type: ignore[attr-defined]
    await cache.store.close()
    cache.store = RedisStore(redis_url, timeout=5)
    await capi.data("{ viewer { id } }")
    capi.statements.clear()
    results = await asyncio.gather(*(capi.data(query) for _ in range(100)))
    assert all(result == results[0] for result in results)
    ranking = [s for s in capi.statements.statements if "GROUP BY" in s and "LIMIT" in s]
    assert len(ranking) == 1
    stats = stats_of(capi)
    assert stats["misses"] == 1
    assert stats.get("coalesced", 0) + stats.get("hits", 0) == 99


async def test_with_the_cache_off_every_request_computes_its_own(wapi: Api) -> None:
    query = "{ topProducts(limit: 7) { sales { unitsSold } } }"
    async with running_app(wapi.url, field_cache=False) as api:
        await api.data("{ viewer { id } }")
        api.statements.clear()
        results = await asyncio.gather(*(api.data(query) for _ in range(5)))
        assert all(result == results[0] for result in results)
        ranking = [s for s in api.statements.statements if "GROUP BY" in s and "LIMIT" in s]
        assert len(ranking) == 5  # no sharing between concurrent requests either
        assert stats_of(api) == {}


VERSION = "query($id: ID!) { product(id: $id) { version } }"


async def test_a_dead_redis_costs_correctness_nothing(wapi: Api) -> None:
    """Every read goes to PostgreSQL, the failures are counted, and a write is seen at
    once (no value from anywhere but the database)."""
    async with running_app(wapi.url, redis_url="redis://127.0.0.1:1/0") as api:
        expected = await wapi.data(SALES)
        for _ in range(3):
            assert await api.counted(SALES) == expected
            assert any("order_items" in s for s in api.statements.statements)
        store = api.client._transport.app.state.field_cache.store  # type: ignore[attr-defined]
        assert store.errors >= 1
        stats = stats_of(api)
        assert stats.get("hits", 0) == 0
        assert stats["errors"] >= 3
        product = expected["products"]["edges"][0]["node"]
        sold = product["salesStats"]["unitsSold"]
        version = (await api.data(VERSION, {"id": product["id"]}))["product"]["version"]
        await api.data(
            UPDATE_PRODUCT, {"input": {"id": product["id"], "expectedVersion": version, "stock": 9}}
        )
        placed = await api.data(
            PLACE_ORDER,
            {
                "input": {
                    "items": [{"productId": product["id"], "quantity": 1}],
                    "idempotencyKey": "dead-redis",
                }
            },
        )
        assert placed["placeOrder"]["order"] is not None, placed
        fresh = (await api.data(SALES))["products"]["edges"][0]["node"]
        assert fresh["salesStats"]["unitsSold"] == sold + 1


PRODUCTS = """query($search: String) { products(first: 3, filter: {search: $search}) {
  totalCount edges { node { sku price stock } } } }"""


async def test_the_products_connection_is_cached_per_argument_set(capi: Api) -> None:
    await capi.counted(PRODUCTS, {"search": "steel"})
    assert len(capi.statements.statements) == 2  # page and count
    await capi.counted(PRODUCTS, {"search": "steel"})
    assert capi.statements.statements == []
    await capi.counted(PRODUCTS, {"search": "oak"})
    assert len(capi.statements.statements) == 2


async def test_a_product_change_refreshes_cached_pages(capi: Api) -> None:
    first = (await capi.data(PRODUCTS))["products"]["edges"][0]["node"]
    row = await fetch_one(
        capi.url, "SELECT id, version FROM products WHERE sku = :s", s=first["sku"]
    )
    await capi.data(
        UPDATE_PRODUCT,
        {"input": {"id": gid("Product", row.id), "expectedVersion": row.version, "price": "1.23"}},
    )
    again = (await capi.data(PRODUCTS))["products"]["edges"][0]["node"]
    assert again["price"] == "1.23"


async def test_the_debug_header_shows_what_came_from_the_cache(capi: Api) -> None:
    query = {"query": "{ topProducts(limit: 2) { sales { unitsSold } } }"}
    headers = {**capi.headers, "x-cache-debug": "1"}
    first = (await capi.client.post("/graphql", json=query, headers=headers)).json()
    second = (await capi.client.post("/graphql", json=query, headers=headers)).json()
    plain = (await capi.client.post("/graphql", json=query, headers=capi.headers)).json()
    assert first["extensions"]["cache"] == [
        {"field": "Query.topProducts", "parent": None, "result": "miss"}
    ]
    assert second["extensions"]["cache"][0]["result"] == "hit"
    assert "extensions" not in plain or "cache" not in plain["extensions"]


async def test_production_hides_the_debug_extension(wapi: Api, redis_url: str) -> None:
    async with running_app(wapi.url, redis_url=redis_url, environment="production") as api:
        response = await api.client.post(
            "/graphql",
            json={"query": "{ topProducts(limit: 2) { sales { unitsSold } } }"},
            headers={**api.headers, "x-cache-debug": "1"},
        )
    assert "cache" not in response.json().get("extensions", {})


async def test_metrics_count_hits_misses_and_invalidations(capi: Api) -> None:
    await capi.data("{ topProducts(limit: 2) { sales { unitsSold } } }")
    await capi.data("{ topProducts(limit: 2) { sales { unitsSold } } }")
    text = (await capi.client.get("/metrics")).text
    assert 'ordergraph_field_cache_total{event="hits"} 1.0' in text
    assert 'ordergraph_field_cache_total{event="misses"} 1.0' in text
    assert "ordergraph_subscribers 0.0" in text


async def test_cached_fields_of_a_page_are_read_in_batches(capi: Api) -> None:
    await capi.data(SALES)
    store = capi.client._transport.app.state.field_cache.store  # type: ignore[attr-defined]
    calls: list[int] = []
    original = store.get_many

    async def counting(keys: list[str]) -> list[bytes | None]:
        calls.append(len(keys))
        result: list[bytes | None] = await original(keys)
        return result

    store.get_many = counting
    await capi.data(SALES)
    # Page: its tag versions, then its value; then the five salesStats: all their tag
    # versions in one MGET, all their values in another. Not one round trip per field.
    assert len(calls) == 4
    assert calls[3] == 5


async def test_a_hot_value_is_decoded_once_and_a_rewritten_one_again(redis_url: str) -> None:
    store = RedisStore(redis_url)
    cache = FieldCache(store, namespace=f"decode-{id(store)}", schema_version="t")
    decoded: list[bytes] = []
    computed = iter([b"first", b"second"])

    def decode(raw: bytes) -> tuple[bytes]:
        decoded.append(raw)
        return (raw,)

    async def compute() -> tuple[bytes]:
        return (next(computed),)

    async def read() -> tuple[bytes]:
        return await cache.get_or_compute(
            type_name="Query",
            field_name="hot",
            parent_id=None,
            arguments={},
            viewer=None,
            tags=["hot"],
            ttl=60,
            compute=compute,
            encode=lambda value: value[0],
            decode=decode,
        )

    try:
        assert await read() == (b"first",)  # a miss: computed, not decoded
        one, two = await read(), await read()
        assert one is two == (b"first",)
        assert decoded == [b"first"]
        # The same key rewritten (as when a TTL lapses and a miss refills it): decoded anew.
        key = next(k for k in cache._decoded)
        await store.set(key, b"second", 60)
        assert await read() == (b"second",)
        assert decoded == [b"first", b"second"]
    finally:
        await store.close()
