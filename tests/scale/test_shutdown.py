"""Graceful shutdown with real server processes and the clients users run.

Instance a gets SIGTERM while a graphql-ws subscriber (the reference client, in Node)
is mid-subscription and a mutation is in flight (held on a row lock). /readyz fails
first; the mutation completes and answers; the socket closes with 1001; the client
reconnects to instance b with `after` and receives every event, none twice; the event
log has no gap and the outbox is empty. SSE and multipart subscriptions end with
SHUTTING_DOWN and a complete body.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.dbtools import fetch_value
from tests.events.conftest import Cluster, Server, _cluster
from tests.events.feeds import PRODUCT_EVENTS, a_product, set_stock
from tests.events.http_streams import http_subscription
from tests.events.node import NODE_DIR, node_or_skip, node_subscribe
from tests.graphql.mutations import UPDATE_PRODUCT
from tests.helpers import gid

RESUME = NODE_DIR / "graphql_ws_resume.mjs"
DRAIN_SECONDS = 1.5
SETTLE_SECONDS = 0.5


@pytest.fixture
async def cluster(
    server_url: str, template_db: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[Cluster]:
    async for value in _cluster(
        server_url,
        template_db,
        redis_url,
        tmp_path,
        SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS),
        SHUTDOWN_GRACE_SECONDS="20",
    ):
        yield value


def logged(server: Server) -> str:
    """What the server process wrote to its log."""
    server.log.flush()
    with open(server.log.name, encoding="utf-8", errors="replace") as log:
        return log.read()


def stocks(lines: list[dict[str, Any]]) -> list[int]:
    return [line["payload"]["data"]["productEvents"]["node"]["stock"] for line in lines]


async def readiness(server: Server) -> int | None:
    """/readyz's status, or None once the server no longer accepts connections."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"http://127.0.0.1:{server.port}/readyz")).status_code
    except httpx.TransportError:
        return None


async def wait_for_lock_waiter(url: str) -> None:
    """Until a statement of the server's waits on a row lock (the held mutation)."""
    deadline = time.monotonic() + 10
    while not await fetch_value(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'ordergraph' AND wait_event_type = 'Lock'",
    ):
        assert time.monotonic() < deadline, "the mutation never reached the lock"
        await asyncio.sleep(0.05)


async def test_sigterm_drains_a_mutation_and_a_graphql_ws_subscriber_resumes_on_b(
    cluster: Cluster,
) -> None:
    node = node_or_skip()
    product_id = await a_product(cluster, 3)
    version = await fetch_value(
        cluster.url, "SELECT version FROM products WHERE id = :i", i=product_id
    )
    await set_stock(cluster, product_id, 10)
    async with node_subscribe(
        node,
        cluster.a.ws,
        PRODUCT_EVENTS,
        token=cluster.admin,
        variables={"filter": {"ids": [gid("Product", product_id)]}},
        script=RESUME,
        extra={"urls": [cluster.a.ws, cluster.b.ws], "field": "productEvents", "count": 4},
    ) as sub:
        await sub.until("connected")
        await asyncio.sleep(SETTLE_SECONDS)
        await set_stock(cluster, product_id, 11)
        await sub.until("next")

        # A mutation in flight: it waits on the product's row, which the test holds.
        locker = create_async_engine(cluster.url)
        try:
            async with locker.connect() as conn:
                transaction = await conn.begin()
                await conn.execute(
                    text("SELECT 1 FROM products WHERE id = :i FOR UPDATE"), {"i": product_id}
                )
                async with httpx.AsyncClient(timeout=60) as client:
                    in_flight = asyncio.create_task(
                        client.post(
                            cluster.a.http,
                            json={
                                "query": UPDATE_PRODUCT,
                                "variables": {
                                    "input": {
                                        "id": gid("Product", product_id),
                                        "expectedVersion": version + 2,
                                        "stock": 12,
                                    }
                                },
                            },
                            headers={"authorization": f"Bearer {cluster.admin}"},
                        )
                    )
                    await wait_for_lock_waiter(cluster.url)
                    cluster.a.process.send_signal(signal.SIGTERM)

                    # Readiness fails first, while a still serves.
                    deadline = time.monotonic() + 5
                    while (status := await readiness(cluster.a)) == 200:
                        assert time.monotonic() < deadline
                        await asyncio.sleep(0.05)
                    assert status == 503

                    closed = await sub.until("closed", wait=20)
                    assert closed["code"] == 1001
                    assert not in_flight.done()
                    await transaction.commit()  # the held mutation goes on
                    answer = await in_flight
        finally:
            await locker.dispose()
        body = answer.json()
        assert answer.status_code == 200, body
        assert body["data"]["updateProduct"]["errors"] == [], body
        assert body["data"]["updateProduct"]["product"]["stock"] == 12

        resubscribed = await sub.until("resubscribed")
        assert resubscribed["url"] == cluster.b.ws
        await sub.until("connected")
        for stock in (13, 14):
            await set_stock_on(cluster, cluster.b, product_id, stock)
        done = await sub.done()

    assert cluster.a.process.wait(30) == 0
    assert "Traceback" not in logged(cluster.a)
    assert sub.of("error") == [], sub.lines
    assert done["received"] == 4
    # 10 came before the subscription; 12 committed while a drained: no gap, no duplicate.
    assert stocks(sub.of("next")) == [11, 12, 13, 14]
    assert [line["code"] for line in sub.of("closed")][:1] == [1001]
    await assert_nothing_lost(cluster)


async def set_stock_on(cluster: Cluster, server: Server, product_id: Any, stock: int) -> None:
    version = await fetch_value(
        cluster.url, "SELECT version FROM products WHERE id = :i", i=product_id
    )
    data = await cluster.call(
        server,
        cluster.admin,
        UPDATE_PRODUCT,
        input={"id": gid("Product", product_id), "expectedVersion": version, "stock": stock},
    )
    assert data["updateProduct"]["errors"] == []


async def assert_nothing_lost(cluster: Cluster) -> None:
    """Every committed change is in the event log, numbered without a gap."""
    deadline = time.monotonic() + 10
    while await fetch_value(cluster.url, "SELECT count(*) FROM outbox"):
        assert time.monotonic() < deadline, "rows stayed in the outbox"
        await asyncio.sleep(0.1)
    first, last, count = (
        await fetch_value(cluster.url, "SELECT min(position) FROM events"),
        await fetch_value(cluster.url, "SELECT max(position) FROM events"),
        await fetch_value(cluster.url, "SELECT count(*) FROM events"),
    )
    assert count == last - first + 1


@pytest.mark.parametrize("transport", ["sse", "multipart"])
async def test_sigterm_ends_http_subscriptions_with_shutting_down_and_a_whole_body(
    cluster: Cluster, transport: str
) -> None:
    product_id = await a_product(cluster, 4)
    async with http_subscription(
        transport,
        cluster.a,
        cluster.admin,
        PRODUCT_EVENTS,
        filter={"ids": [gid("Product", product_id)]},
    ) as results:
        await asyncio.sleep(SETTLE_SECONDS)
        await set_stock_on(cluster, cluster.b, product_id, 21)
        first = await anext(results)
        cluster.a.process.send_signal(signal.SIGTERM)
        # The iterator ends only at the transport's own end (complete, closing delimiter):
        # a body cut short raises instead.
        rest = [result async for result in results]
    assert first["data"]["productEvents"]["node"]["stock"] == 21
    [last] = rest
    assert [error["extensions"]["code"] for error in last["errors"]] == ["SHUTTING_DOWN"]
    assert "after" in last["errors"][0]["message"]
    assert cluster.a.process.wait(30) == 0
    assert "Traceback" not in logged(cluster.a)
