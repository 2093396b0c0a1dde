"""A client that goes away mid-export: the walk stops where it is, its connection goes
back to the pool, and nothing is left running in PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import ADMIN_EMAIL, seed
from tests import postgres
from tests.conftest import SMALL, token_for
from tests.dbtools import fetch_value
from tests.events.conftest import Server, start_server, stop_server

ORDERS = 200_000


@pytest.fixture(scope="module")
async def big(
    server_url: str, template_db: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, Server, str]]:
    name = postgres.unique_name("export_big")
    url = await postgres.create_database(server_url, name, template=template_db)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
            # Many rows fast: this test is about the walk, not about how orders are made.
            await conn.execute(
                text(
                    "INSERT INTO orders (user_id, status, total, created_at, updated_at) "
                    "SELECT u.id, 'paid', 1.00, now() - i * interval '1 second', now() "
                    "FROM generate_series(1, :n) AS i, (SELECT id FROM users LIMIT 1) AS u"
                ),
                {"n": ORDERS},
            )
        await engine.dispose()
        token = await token_for(url, ADMIN_EMAIL)
        logs: Path = tmp_path_factory.mktemp("export-big")
        server = start_server(url, redis_url, logs / "server.log", EXPORT_BATCH_ROWS="1000")
        try:
            yield url, server, token
        finally:
            stop_server(server)
    finally:
        await engine.dispose()
        await postgres.drop_database(server_url, name)


async def gauges(server: Server) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=10) as client:
        body = (await client.get(f"http://127.0.0.1:{server.port}/metrics")).text
    return {
        name: int(float(value))
        for name, value in re.findall(r"^(ordergraph_\w+) ([\d.e+]+)$", body, re.M)
    }


async def test_a_client_that_leaves_mid_stream_stops_the_export_and_frees_its_connection(
    big: tuple[str, Server, str],
) -> None:
    url, server, token = big
    before = await gauges(server)
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream(
            "GET",
            f"http://127.0.0.1:{server.port}/export/orders.csv",
            headers={"authorization": f"Bearer {token}"},
        ) as response,
    ):
        assert response.status_code == 200
        first = await anext(response.aiter_raw())
        assert first.startswith(b'"id","user.id"')
        # Bytes arrived while the export still runs: the walk is far from its end.
        streaming = await gauges(server)
        assert streaming["ordergraph_exports_streaming"] == 1
    # The client closed its connection with most of the body unread.
    deadline = asyncio.get_running_loop().time() + 15
    while (now := await gauges(server))["ordergraph_exports_streaming"] != 0:
        assert asyncio.get_running_loop().time() < deadline, now
        await asyncio.sleep(0.1)
    # Background work (the relay's and broker's polls) holds a connection for moments:
    # wait for the count to come back to what it was, with a deadline.
    pooled = "ordergraph_db_pool_in_use"
    while (await gauges(server))[pooled] > before[pooled]:
        assert asyncio.get_running_loop().time() < deadline, "a connection was not returned"
        await asyncio.sleep(0.1)
    read = now["ordergraph_export_rows_total"] - before["ordergraph_export_rows_total"]
    assert 0 < read < ORDERS
    await asyncio.sleep(0.5)
    assert (await gauges(server))["ordergraph_export_rows_total"] == now[
        "ordergraph_export_rows_total"
    ], "the walk went on after the client left"
    running = await fetch_value(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'ordergraph' AND state <> 'idle' AND query ILIKE '%FROM orders%'",
    )
    assert running == 0
