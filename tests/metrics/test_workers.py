"""/metrics of a real two-worker `ordergraph serve`, read with prometheus_client's parser:
the workers' counts add up, and every family moves when its thing happens."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable

import httpx

from tests.dbtools import fetch_value
from tests.helpers import gid
from tests.metrics.conftest import METRICS_TOKEN, Workers
from tests.metrics.scrape import Samples, scrape, value
from tests.wsclient import connect

ME = "query Me { viewer { id } }"
SECONDS = "ordergraph_graphql_operation_seconds_count"
ME_LABELS = {"operation": "Me", "type": "query"}
UPDATE_STOCK = """mutation($input: UpdateProductInput!) {
  updateProduct(input: $input) { errors { code } } }"""


def base(workers: Workers) -> str:
    return f"http://127.0.0.1:{workers.server.port}"


async def post(workers: Workers, query: str, **variables: object) -> httpx.Response:
    # A client per request: a new connection, which either worker may accept.
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"{base(workers)}/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {workers.admin}"},
        )


def scraper(workers: Workers) -> Callable[[], Awaitable[Samples]]:
    async def read() -> Samples:
        return await scrape(base(workers), METRICS_TOKEN)

    return read


def pids(workers: Workers, kind: str) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in workers.directory.glob(f"{kind}_*.db")}


async def until(
    read: Callable[[], Awaitable[Samples]], holds: Callable[[Samples], bool]
) -> Samples:
    """Scrapes until `holds` (the other worker samples its gauges once a second)."""
    for _ in range(100):
        samples = await read()
        if holds(samples):
            return samples
        await asyncio.sleep(0.1)
    raise AssertionError(f"never held; last scrape: {samples}")


async def test_a_scrape_without_the_metrics_token_is_refused(workers: Workers) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        bare = await client.get(f"{base(workers)}/metrics")
        wrong = await client.get(
            f"{base(workers)}/metrics", headers={"authorization": "Bearer not-the-token"}
        )
        right = await client.get(
            f"{base(workers)}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}
        )
    assert bare.status_code == wrong.status_code == 401
    assert bare.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "ordergraph_" not in bare.text + wrong.text
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/plain")


async def test_operations_counted_by_both_workers_add_up_in_every_scrape(
    workers: Workers,
) -> None:
    before = value(await scrape(base(workers), METRICS_TOKEN), SECONDS, ME_LABELS)
    sent = 0
    # Until both workers have served some (their files in the run's directory).
    while len(pids(workers, "histogram")) < 2 or sent < 20:
        responses = await asyncio.gather(*(post(workers, ME) for _ in range(8)))
        assert all(r.status_code == 200 and "errors" not in r.json() for r in responses)
        sent += len(responses)
        assert sent < 800, "one worker served every request"
    # The stale file of an earlier run was removed before the workers started.
    assert not (workers.directory / "counter_1.db").exists()
    # Each scrape is answered by one worker or the other; every one sees the sum.
    for _ in range(6):
        samples = await scrape(base(workers), METRICS_TOKEN)
        assert value(samples, SECONDS, ME_LABELS) - before == sent
        statements = value(
            samples, "ordergraph_graphql_operation_statements_count", {"type": "query"}
        )
        assert statements >= sent


async def test_errors_are_counted_by_code(workers: Workers) -> None:
    code = {"code": "GRAPHQL_VALIDATION_FAILED"}
    before = value(
        await scrape(base(workers), METRICS_TOKEN), "ordergraph_graphql_errors_total", code
    )
    for _ in range(3):
        body = (await post(workers, "query Bad { noSuchField }")).json()
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    after = value(
        await scrape(base(workers), METRICS_TOKEN), "ordergraph_graphql_errors_total", code
    )
    assert after - before == 3


async def test_pool_gauges_are_there_for_both_workers(workers: Workers) -> None:
    samples = await scrape(base(workers), METRICS_TOKEN)
    # DB_POOL_SIZE 10 + DB_MAX_OVERFLOW 10 per worker, two live workers.
    assert value(samples, "ordergraph_db_pool_size") == 40
    assert value(samples, "ordergraph_db_pool_open") >= 2
    assert ("ordergraph_db_pool_in_use", frozenset()) in samples
    assert ("ordergraph_db_pool_waiting", frozenset()) in samples


async def test_cache_counters_move(workers: Workers) -> None:
    hits = {"event": "hits"}
    misses = {"event": "misses"}
    samples = await scrape(base(workers), METRICS_TOKEN)
    seen = value(samples, "ordergraph_field_cache_total", hits) + value(
        samples, "ordergraph_field_cache_total", misses
    )
    for _ in range(4):
        body = (await post(workers, "{ topProducts(limit: 2) { sales { unitsSold } } }")).json()
        assert "errors" not in body, body

    def moved(s: Samples) -> bool:
        total = value(s, "ordergraph_field_cache_total", hits) + value(
            s, "ordergraph_field_cache_total", misses
        )
        return total >= seen + 4

    await until(lambda: scrape(base(workers), METRICS_TOKEN), moved)


async def test_live_ws_subscribers_are_counted_per_transport(workers: Workers) -> None:
    ws = {"transport": "ws"}
    ws_url = f"ws://127.0.0.1:{workers.server.port}/graphql"
    read = scraper(workers)
    async with connect(ws_url, token=workers.admin) as session:
        await session.subscribe("subscription { productEvents { cursor } }")
        await until(read, lambda s: value(s, "ordergraph_live_subscribers", ws) == 1)
        samples = await read()
        assert value(samples, "ordergraph_live_subscribers", {"transport": "sse"}) == 0
    await until(read, lambda s: value(s, "ordergraph_live_subscribers", ws) == 0)


async def test_the_event_log_position_moves_and_the_outbox_lag_is_read(workers: Workers) -> None:
    read = scraper(workers)
    before = await read()
    assert ("ordergraph_outbox_lag_seconds", frozenset()) in before
    product: uuid.UUID = await fetch_value(workers.url, "SELECT id FROM products LIMIT 1")
    version = await fetch_value(
        workers.url, "SELECT version FROM products WHERE id = :i", i=product
    )
    body = (
        await post(
            workers,
            UPDATE_STOCK,
            input={"id": gid("Product", product), "expectedVersion": version, "stock": 17},
        )
    ).json()
    assert body["data"]["updateProduct"]["errors"] == [], body
    position = value(before, "ordergraph_event_log_position")
    after = await until(read, lambda s: value(s, "ordergraph_event_log_position") > position)
    assert value(after, "ordergraph_outbox_lag_seconds") >= 0


async def test_export_rows_are_counted(workers: Workers) -> None:
    read = scraper(workers)
    before = value(await read(), "ordergraph_export_rows_total")
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(
            f"{base(workers)}/export/orders.csv",
            headers={"authorization": f"Bearer {workers.admin}"},
        )
    assert response.status_code == 200
    rows = len(response.text.strip().splitlines()) - 1
    assert rows > 0
    await until(read, lambda s: value(s, "ordergraph_export_rows_total") - before >= rows)


def live(samples: Samples, *, labels: dict[str, str], count: int) -> bool:
    return value(samples, "ordergraph_live_subscribers", labels) == count


async def test_live_sse_and_multipart_subscribers_are_counted_per_transport(
    workers: Workers,
) -> None:
    read = scraper(workers)
    server = workers.server
    subscription = "subscription { productEvents { cursor } }"
    accepts = {"sse": "text/event-stream", "multipart": 'multipart/mixed;subscriptionSpec="1.0"'}
    for transport, accept in accepts.items():
        labels = {"transport": transport}
        headers = {"accept": accept, "authorization": f"Bearer {workers.admin}"}
        async with (
            httpx.AsyncClient(timeout=30) as client,
            client.stream("POST", server.http, json={"query": subscription}, headers=headers) as r,
        ):
            assert r.status_code == 200
            await until(read, functools.partial(live, labels=labels, count=1))
        await until(read, functools.partial(live, labels=labels, count=0))
