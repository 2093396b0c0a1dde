"""Rate limits by cost per minute: 429 with Retry-After and RATE_LIMITED, one budget
shared by instances through Redis (a Redis of the test's own), and each process deciding
alone while that Redis is down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.conftest import Api, running_app
from tests.redis_server import PrivateRedis, private_redis

PRODUCTS = "query { products(first: 50) { edges { node { id } } } }"  # costs 101
RATE = 250  # per minute: two of PRODUCTS at once, not three


@pytest.fixture
def own_redis() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


async def ask(api: Api) -> tuple[int, dict[str, str], dict[str, Any]]:
    response = await api.client.post("/graphql", json={"query": PRODUCTS}, headers=api.headers)
    return response.status_code, dict(response.headers), response.json()


def assert_limited(status: int, headers: dict[str, str], body: dict[str, Any]) -> None:
    assert status == 429, body
    assert int(headers["retry-after"]) >= 1
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] == int(headers["retry-after"])
    assert "data" not in body


async def test_over_the_token_limit_is_429_with_retry_after(
    seeded_url: str, own_redis: PrivateRedis
) -> None:
    async with running_app(
        seeded_url,
        redis_url=own_redis.url,
        rate_limit_token_cost_per_minute=RATE,
        rate_limit_sync_ms=0,
    ) as api:
        for _ in range(2):
            status, _, body = await ask(api)
            assert status == 200, body
            assert "errors" not in body, body
        assert_limited(*await ask(api))
        # Another token has a budget of its own.
        status, _, body = await ask(await api.as_user("user000001@example.com"))
        assert status == 200, body
        keys = redis.Redis.from_url(own_redis.url).keys("*rate:token:*")
        assert len(keys) == 2
        assert api.token is not None
        assert all(api.token.encode() not in key for key in keys)


async def test_the_address_limit_counts_anonymous_requests(
    seeded_url: str, own_redis: PrivateRedis
) -> None:
    async with running_app(
        seeded_url,
        as_admin=False,
        redis_url=own_redis.url,
        rate_limit_address_cost_per_minute=RATE,
        rate_limit_sync_ms=0,
    ) as api:
        for _ in range(2):
            assert (await ask(api))[0] == 200
        assert_limited(*await ask(api))


async def test_instances_share_one_budget_through_redis(
    seeded_url: str, own_redis: PrivateRedis
) -> None:
    settings: dict[str, Any] = {
        "redis_url": own_redis.url,
        "rate_limit_token_cost_per_minute": RATE,
        "rate_limit_sync_ms": 1,
    }
    async with running_app(seeded_url, **settings) as a, running_app(seeded_url, **settings) as b:
        b = b.as_(a.token)
        for _ in range(2):
            assert (await ask(a))[0] == 200
        await settle(a)
        # b has admitted nothing yet: it decides from its own copy until it syncs, then
        # knows what a spent.
        assert (await ask(b))[0] == 200
        await settle(b)
        assert_limited(*await ask(b))
        assert_limited(*await ask(a))


async def settle(api: Api) -> None:
    """Wait for the instance's sync with Redis to have happened."""
    await asyncio.sleep(0.01)
    limiter = api.client._transport.app.app.state.rate_limiter  # type: ignore[attr-defined]
    if limiter._sync is not None:
        await limiter._sync


async def test_with_redis_down_each_process_limits_alone(
    seeded_url: str, own_redis: PrivateRedis
) -> None:
    async with running_app(
        seeded_url,
        redis_url=own_redis.url,
        rate_limit_token_cost_per_minute=RATE,
        rate_limit_sync_ms=0,
    ) as api:
        own_redis.stop()
        for _ in range(2):
            status, _, body = await ask(api)
            assert status == 200, body
            assert "errors" not in body, body
        assert_limited(*await ask(api))
        limiter = api.client._transport.app.app.state.rate_limiter  # type: ignore[attr-defined]
        assert limiter.breaker.errors >= 1
        assert not limiter.shared
