"""A package's scrape-time gauges (app.metrics.register_collector), and METRICS_PORT:
every worker's families on a port of their own, none on the API's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import metrics
from app.db.engine import connect
from app.metrics import collectors
from tests.conftest import running_app
from tests.events.conftest import start_server, stop_server
from tests.metrics.scrape import parse, value
from tests.redis_server import free_port


async def product_gauge(engine: AsyncEngine) -> Iterable[metrics.Reading]:
    async with connect(engine) as conn:
        count = (await conn.execute(text("SELECT count(*) FROM products"))).scalar_one()
    return [
        metrics.Reading("ordergraph_test_products", "Products.", count, {"kind": "all"}),
    ]


async def broken_gauge(engine: AsyncEngine) -> Iterable[metrics.Reading]:
    raise RuntimeError("the queue is gone")


async def slow_gauge(engine: AsyncEngine) -> Iterable[metrics.Reading]:
    await asyncio.sleep(collectors.COLLECT_TIMEOUT + 1)
    return [metrics.Reading("ordergraph_test_never", "Never.", 1)]


async def test_registered_collectors_are_read_at_each_scrape_and_a_failing_one_is_left_out(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collectors, "_COLLECTORS", list(collectors._COLLECTORS))
    for collect in (product_gauge, broken_gauge, slow_gauge, product_gauge):
        metrics.register_collector(collect)
    async with running_app(seeded_url) as api:
        response = await api.client.get("/metrics")
        products = await api.data("{ products(first: 1) { totalCount } }")
    assert response.status_code == 200
    samples = parse(response.text)
    total = products["products"]["totalCount"]
    assert value(samples, "ordergraph_test_products", {"kind": "all"}) == total
    assert not any(name == "ordergraph_test_never" for name, _ in samples)
    # The built-in ones are there too (registered the same way).
    assert ("ordergraph_event_log_position", frozenset()) in samples


async def test_metrics_port_serves_every_worker_and_the_api_port_does_not(
    seeded_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    directory = tmp_path / "prometheus"
    server = start_server(
        seeded_url,
        redis_url,
        tmp_path / "server.log",
        WEB_CONCURRENCY="2",
        METRICS_PORT=str(port),
        PROMETHEUS_MULTIPROC_DIR=str(directory),
    )
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            api = await client.get(f"http://127.0.0.1:{server.port}/metrics")
            for _ in range(6):
                answer = await client.post(server.http, json={"query": "query Ping { __typename }"})
                assert answer.status_code == 200
            scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        stop_server(server)
    assert api.status_code == 404
    assert scraped.status_code == 200
    samples = parse(scraped.text)
    labels = {"operation": "Ping", "type": "query"}
    assert value(samples, "ordergraph_graphql_operation_seconds_count", labels) == 6
    assert ("ordergraph_event_log_position", frozenset()) in samples
    # Each worker marked itself dead as it stopped: its live gauges left, its counts stay.
    assert list(directory.glob("histogram_*.db"))
    assert not list(directory.glob("gauge_live*.db"))
