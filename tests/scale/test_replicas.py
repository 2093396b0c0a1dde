"""Read replicas against a real streaming replica (pg_basebackup -R) of a primary of
the test's own: queries read from the replica, mutations and read-your-writes from the
primary, a lagging or stopped replica is skipped. Replay is paused on the replica
(pg_wal_replay_pause()) to make it lag on purpose."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import migrate
from app.db.seed import ADMIN_EMAIL, seed
from tests.conftest import SMALL, Api, running_app, token_for
from tests.dbtools import fetch_value
from tests.graphql.mutations import UPDATE_PRODUCT
from tests.helpers import gid
from tests.scale.replication import Pair, missing, primary_and_replica

DATABASE = "ordergraph"
PRODUCT = """query($id: ID!) { node(id: $id) { ... on Product { stock } } }"""
CHECK_SECONDS = 0.1


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    with primary_and_replica() as pair:
        yield pair


@pytest.fixture(scope="module")
async def primary_url(pair: Pair) -> str:
    engine = create_async_engine(pair.primary.url(), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    await engine.dispose()
    url = pair.primary.url(DATABASE)
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await seed(conn, SMALL)
    await engine.dispose()
    return url


@pytest.fixture(scope="module")
async def admin(primary_url: str) -> str:
    return await token_for(primary_url, ADMIN_EMAIL)


async def replay(pair: Pair, *, paused: bool) -> None:
    engine = create_async_engine(pair.replica.url(), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            call = "pg_wal_replay_pause" if paused else "pg_wal_replay_resume"
            await conn.execute(text(f"SELECT {call}()"))
    finally:
        await engine.dispose()


async def caught_up(pair: Pair, primary_url: str) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    target = await fetch_value(primary_url, "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + 30
    while not await fetch_value(
        pair.replica.url(),
        "SELECT pg_last_wal_replay_lsn() >= CAST(CAST(:t AS text) AS pg_lsn)",
        t=target,
    ):
        assert time.monotonic() < deadline, "the replica never caught up"
        await asyncio.sleep(0.05)


@pytest.fixture
async def api(pair: Pair, primary_url: str, admin: str) -> AsyncIterator[Api]:
    await caught_up(pair, primary_url)
    async with running_app(
        primary_url,
        database_replica_urls=[pair.replica.url(DATABASE)],
        replica_check_seconds=CHECK_SECONDS,
        replica_max_lag_ms=600_000,
    ) as api:
        yield api
    await replay(pair, paused=False)


async def a_product(primary_url: str) -> tuple[str, Any, int]:
    row_id = await fetch_value(primary_url, "SELECT id FROM products ORDER BY sku LIMIT 1")
    version = await fetch_value(primary_url, "SELECT version FROM products WHERE id = :i", i=row_id)
    return gid("Product", row_id), row_id, version


async def stock_of(api: Api, product: str, **headers: str) -> int:
    response = await api.client.post(
        "/graphql",
        json={"query": PRODUCT, "variables": {"id": product}},
        headers={**api.headers, **headers},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    stock: int = body["data"]["node"]["stock"]
    return stock


async def update_stock(api: Api, product: str, version: int, stock: int) -> httpx.Response:
    response = await api.client.post(
        "/graphql",
        json={
            "query": UPDATE_PRODUCT,
            "variables": {"input": {"id": product, "expectedVersion": version, "stock": stock}},
        },
        headers=api.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["updateProduct"]["errors"] == [], response.text
    return response


async def test_queries_read_from_the_replica(pair: Pair, primary_url: str, api: Api) -> None:
    product, row_id, _ = await a_product(primary_url)
    await replay(pair, paused=True)
    # Written behind the API's back, straight to the primary: only the replica is stale.
    before = await fetch_value(primary_url, "SELECT stock FROM products WHERE id = :i", i=row_id)
    engine = create_async_engine(primary_url)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE products SET stock = stock + 1000 WHERE id = :i"), {"i": row_id}
        )
    await engine.dispose()
    assert await stock_of(api, product) == before
    [stat] = api.app.state.replicas.stats()
    assert stat.up
    assert stat.reads >= 1

    await replay(pair, paused=False)
    await caught_up(pair, primary_url)
    assert await stock_of(api, product) == before + 1000


async def test_read_your_writes_on_a_paused_replica(pair: Pair, primary_url: str, api: Api) -> None:
    product, _, version = await a_product(primary_url)
    old = await stock_of(api, product)
    await replay(pair, paused=True)

    response = await update_stock(api, product, version, old + 7)
    lsn = response.headers["x-ordergraph-lsn"]
    body = response.json()
    assert body["extensions"]["lsn"] == lsn
    # The mutation's own payload was read on the primary.
    assert body["data"]["updateProduct"]["product"]["stock"] == old + 7

    # Without the LSN the read goes to the paused replica: stale. With it: the primary.
    assert await stock_of(api, product) == old
    reads = api.app.state.replicas.stats()[0].reads
    assert await stock_of(api, product, **{"x-ordergraph-lsn": lsn}) == old + 7
    assert api.app.state.replicas.stats()[0].reads == reads

    # Once the replica has replayed the write, the same header reads from it again.
    await replay(pair, paused=False)
    await caught_up(pair, primary_url)
    assert await stock_of(api, product, **{"x-ordergraph-lsn": lsn}) == old + 7
    assert api.app.state.replicas.stats()[0].reads == reads + 1


async def test_a_replica_lagging_past_the_limit_is_skipped(
    pair: Pair, primary_url: str, admin: str
) -> None:
    product, _, version = await a_product(primary_url)
    await caught_up(pair, primary_url)
    async with running_app(
        primary_url,
        database_replica_urls=[pair.replica.url(DATABASE)],
        replica_check_seconds=CHECK_SECONDS,
        replica_max_lag_ms=300,
    ) as api:
        try:
            await replay(pair, paused=True)
            old = await stock_of(api, product)
            await update_stock(api, product, version, old + 3)
            deadline = time.monotonic() + 10
            while (lag := api.app.state.replicas.stats()[0].lag_seconds) is None or lag <= 0.3:
                assert time.monotonic() < deadline, api.app.state.replicas.stats()
                await asyncio.sleep(0.05)
            # No header: still fresh, because the lagging replica is not used.
            assert await stock_of(api, product) == old + 3
            ready = (await api.client.get("/readyz")).json()
            [shown] = ready["checks"]["replicas"]
            assert shown["up"] is True
            assert shown["lag_seconds"] > 0.3
        finally:
            await replay(pair, paused=False)


async def test_a_bad_lsn_header_is_a_coded_400(api: Api, primary_url: str) -> None:
    product, _, _ = await a_product(primary_url)
    response = await api.client.post(
        "/graphql",
        json={"query": PRODUCT, "variables": {"id": product}},
        headers={**api.headers, "x-ordergraph-lsn": "yesterday"},
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "0/16B3748" in error["message"]


async def test_a_stopped_replica_is_skipped_and_reported(
    pair: Pair, primary_url: str, api: Api
) -> None:
    product, row_id, _ = await a_product(primary_url)
    pair.replica.stop()
    try:
        deadline = time.monotonic() + 20
        while api.app.state.replicas.stats()[0].up:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        expected = await fetch_value(
            primary_url, "SELECT stock FROM products WHERE id = :i", i=row_id
        )
        assert await stock_of(api, product) == expected
        ready = await api.client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["replicas"][0]["up"] is False
    finally:
        pair.replica.start()
