"""Apollo's multipart HTTP subscriptions against two real server processes: through
Apollo Client itself (HttpLink in Node), and byte by byte with httpx for heartbeats,
authorization, expiry, resume, the per-viewer cap and the end of a stream whose client
went away."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.dbtools import fetch_all, fetch_value
from tests.events.conftest import Cluster, Server, _cluster
from tests.events.feeds import (
    ORDER_EVENTS,
    PRODUCT_EVENTS,
    a_product,
    expiring_token,
    flood,
    set_stock,
)
from tests.events.node import NODE_DIR, NodeSubscription, node_or_skip
from tests.events.test_subscriptions import settled_count
from tests.helpers import gid, pk

APOLLO = NODE_DIR / "apollo_client.mjs"
ACCEPT = 'multipart/mixed;boundary="graphql";subscriptionSpec="1.0",application/json'
HEARTBEAT_SECONDS = 1
MAX_STREAMS = 2
SETTLE_SECONDS = 0.5
QUEUE_SIZE = 5
UPDATES = 40
# Each event is ALIASES copies of a 5,000-character description.
ALIASES = 40


@pytest.fixture(scope="module")
async def cluster(
    server_url: str, template_db: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    async for value in _cluster(
        server_url,
        template_db,
        redis_url,
        tmp_path_factory.mktemp("multipart"),
        AUTH_CACHE_SECONDS="2",
        SUBSCRIBER_QUEUE_SIZE=str(QUEUE_SIZE),
        MAX_QUERY_ALIASES=str(ALIASES),
        MULTIPART_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
        MULTIPART_MAX_STREAMS=str(MAX_STREAMS),
    ):
        yield value


def only(product_id: uuid.UUID, after: str | None = None) -> dict[str, Any]:
    return {"filter": {"ids": [gid("Product", product_id)]}, "after": after}


class Parts:
    """The JSON parts of a multipart/mixed;boundary=graphql body, as they arrive."""

    DELIMITER = "\r\n--graphql"

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.chunks = response.aiter_text()
        self.buffer = ""
        self.closed = False

    async def next(self, wait: float = 15) -> dict[str, Any] | None:
        """The next part (heartbeats `{}` included), or None once the body closed."""
        chunk = self.buffer
        async with asyncio.timeout(wait):
            while True:
                if self.buffer.startswith("--graphql"):
                    self.buffer = "\r\n" + self.buffer  # the opening delimiter
                if self.buffer.startswith(self.DELIMITER + "--"):
                    self.closed = True
                    return None
                start = self.buffer.find(self.DELIMITER)
                # Only the new text can hold the end (large parts come in many chunks).
                since = max(start + 1, len(self.buffer) - len(self.DELIMITER) - len(chunk))
                end = self.buffer.find(self.DELIMITER, since) if start >= 0 else -1
                if end > start >= 0:
                    part = self.buffer[start + len(self.DELIMITER) : end]
                    self.buffer = self.buffer[end:]
                    _headers, _, body = part.partition("\r\n\r\n")
                    assert "content-type: application/json" in _headers.lower(), part
                    parsed: dict[str, Any] = orjson.loads(body)
                    return parsed
                try:
                    chunk = await anext(self.chunks)
                    self.buffer += chunk
                except StopAsyncIteration:
                    assert self.buffer.startswith(self.DELIMITER + "--"), self.buffer
                    self.closed = True
                    return None

    async def payload(self, wait: float = 15) -> dict[str, Any] | None:
        """The next result, skipping heartbeats; None once the body closed."""
        while True:
            part = await self.next(wait)
            if part != {}:
                return None if part is None else part["payload"]


@asynccontextmanager
async def multipart(
    server: Server,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    client: httpx.AsyncClient | None = None,
) -> AsyncIterator[Parts]:
    headers = {"accept": ACCEPT}
    if token:
        headers["authorization"] = f"Bearer {token}"
    async with contextlib_client(client) as http:
        body = {"query": query, "variables": variables or {}}
        async with http.stream("POST", server.http, json=body, headers=headers) as response:
            yield Parts(response)


@asynccontextmanager
async def contextlib_client(client: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    if client is not None:
        yield client
        return
    async with httpx.AsyncClient(timeout=30) as own:
        yield own


async def test_a_multipart_subscription_on_b_receives_a_change_made_on_a(
    cluster: Cluster,
) -> None:
    product_id = await a_product(cluster, 0)
    async with multipart(cluster.b, PRODUCT_EVENTS, only(product_id)) as parts:
        assert parts.response.status_code == 200
        content_type = parts.response.headers["content-type"]
        assert content_type.startswith("multipart/mixed;boundary=graphql;subscriptionSpec=1.0")
        assert await parts.next() == {}  # at once: the stream is open
        await asyncio.sleep(SETTLE_SECONDS)
        await set_stock(cluster, product_id, 21)
        payload = await parts.payload()
    assert payload is not None
    assert payload["data"]["productEvents"]["node"]["stock"] == 21


async def test_heartbeats_keep_an_idle_stream_open(cluster: Cluster) -> None:
    async with multipart(cluster.b, PRODUCT_EVENTS) as parts:
        # With nothing happening, only heartbeats: the first at once, then one per interval.
        beats = [await parts.next(wait=10 * HEARTBEAT_SECONDS) for _ in range(3)]
    assert beats == [{}, {}, {}]


async def test_a_bad_token_is_refused_with_401_before_any_stream(cluster: Cluster) -> None:
    async with multipart(cluster.b, ORDER_EVENTS, token="og_nope") as parts:
        await parts.response.aread()
        response = parts.response
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_anonymous_order_subscription_ends_with_unauthenticated(
    cluster: Cluster,
) -> None:
    async with multipart(cluster.b, ORDER_EVENTS) as parts:
        payload = await parts.payload()
        end = await parts.payload()
    assert payload is not None
    assert payload["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert end is None


async def test_an_expired_token_ends_the_stream_with_unauthenticated(cluster: Cluster) -> None:
    token = await expiring_token(cluster, "user000002@example.com")
    async with multipart(cluster.b, ORDER_EVENTS, token=token) as parts:
        payload = await parts.payload()
        end = await parts.payload()
    assert payload is not None
    [error] = payload["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in error["message"]
    assert end is None, "the stream closes after the error"


async def test_resuming_with_after_delivers_exactly_what_was_missed(cluster: Cluster) -> None:
    product_id = await a_product(cluster, 1)
    async with multipart(cluster.b, PRODUCT_EVENTS, only(product_id)) as parts:
        await parts.next()
        await asyncio.sleep(SETTLE_SECONDS)
        await set_stock(cluster, product_id, 31)
        first = await parts.payload()
    assert first is not None
    last = first["data"]["productEvents"]["cursor"]
    for stock in (32, 33, 34):
        await set_stock(cluster, product_id, stock)

    stocks: list[int] = []
    async with multipart(cluster.a, PRODUCT_EVENTS, only(product_id, after=last)) as parts:
        for _ in range(3):
            payload = await parts.payload()
            assert payload is not None
            stocks.append(payload["data"]["productEvents"]["node"]["stock"])
        await set_stock(cluster, product_id, 35)
        payload = await parts.payload()
        assert payload is not None
        stocks.append(payload["data"]["productEvents"]["node"]["stock"])
        # Nothing more: the next parts are heartbeats only.
        assert [await parts.next() for _ in range(2)] == [{}, {}]
    assert stocks == [32, 33, 34, 35]


async def test_a_stream_whose_client_went_away_leaves_the_broker(cluster: Cluster) -> None:
    assert await settled_count(cluster.b, 0) == 0
    async with multipart(cluster.b, PRODUCT_EVENTS, token=cluster.admin) as parts:
        await parts.next()
        assert await settled_count(cluster.b, 1) == 1
    # The client closed its connection mid-stream; nothing of the stream stays behind.
    assert await settled_count(cluster.b, 0) == 0
    # Nor its slot: the cap counts open streams only.
    async with (
        multipart(cluster.b, PRODUCT_EVENTS, token=cluster.admin) as one,
        multipart(cluster.b, PRODUCT_EVENTS, token=cluster.admin) as two,
    ):
        assert (one.response.status_code, two.response.status_code) == (200, 200)
    assert await settled_count(cluster.b, 0) == 0


async def test_a_viewer_holds_at_most_max_streams_at_once(cluster: Cluster) -> None:
    alice = await cluster.token("user000000@example.com")
    bob = await cluster.token("user000001@example.com")
    async with (
        multipart(cluster.b, ORDER_EVENTS, token=alice) as one,
        multipart(cluster.b, ORDER_EVENTS, token=alice) as two,
    ):
        assert [await one.next(), await two.next()] == [{}, {}]
        async with multipart(cluster.b, ORDER_EVENTS, token=alice) as three:
            await three.response.aread()
            refused = three.response
        async with multipart(cluster.b, ORDER_EVENTS, token=bob) as other:
            assert other.response.status_code == 200
        # The cap is per server process: a holds none of alice's streams.
        async with multipart(cluster.a, ORDER_EVENTS, token=alice) as elsewhere:
            assert elsewhere.response.status_code == 200
    assert refused.status_code == 429
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
    assert "MULTIPART_MAX_STREAMS" in error["message"]
    async with multipart(cluster.b, ORDER_EVENTS, token=alice) as again:
        assert again.response.status_code == 200


async def test_a_reader_that_falls_behind_is_cut_with_a_slow_consumer_payload(
    cluster: Cluster,
) -> None:
    """A client that reads nothing: once the network's buffers are full the server's
    queue for it overflows, and what the client reads later ends with SLOW_CONSUMER,
    after the events it did get, in order and without a gap."""
    product_id = await a_product(cluster, 3)
    version = await fetch_value(
        cluster.url, "SELECT version FROM products WHERE id = :i", i=product_id
    )
    copies = " ".join(f"d{n}: description" for n in range(ALIASES))
    query = f"""subscription($filter: ProductEventFilter) {{ productEvents(filter: $filter) {{
        node {{ stock {copies} }} }} }}"""
    # 200 kB an event and a small receive window: the buffers between (the
    # kernel's, up to a few MB) fill after a few events, then the server's queue.
    tiny = httpx.AsyncHTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)])
    async with (
        httpx.AsyncClient(transport=tiny, timeout=60) as client,
        multipart(cluster.b, query, only(product_id), token=cluster.admin, client=client) as parts,
    ):
        await parts.next()
        await asyncio.sleep(SETTLE_SECONDS)
        await flood(cluster, product_id, version=version, count=UPDATES, size=5000)
        payloads = []
        while (payload := await parts.payload(wait=30)) is not None:
            payloads.append(payload)
    *delivered, last = payloads
    assert last["errors"][0]["extensions"]["code"] == "SLOW_CONSUMER", last
    stocks = [payload["data"]["productEvents"]["node"]["stock"] for payload in delivered]
    assert stocks == list(range(len(stocks)))
    assert len(stocks) < UPDATES
    assert await settled_count(cluster.b, 0) == 0


# Apollo Client itself.


@pytest.fixture
def node() -> str:
    executable = node_or_skip()
    if not (NODE_DIR / "node_modules" / "@apollo" / "client").is_dir():
        reason = "tests/node packages are not installed: npm ci --prefix tests/node"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return executable


@asynccontextmanager
async def apollo(node: str, **options: Any) -> AsyncIterator[NodeSubscription]:
    process = await asyncio.create_subprocess_exec(
        node,
        str(APOLLO),
        orjson.dumps(options).decode(),
        cwd=Path(NODE_DIR),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield NodeSubscription(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_apollo_client_over_http_on_b_receives_a_change_made_on_a(
    cluster: Cluster, node: str
) -> None:
    product_id = await a_product(cluster, 2)
    async with apollo(
        node,
        mode="subscribe",
        url=cluster.b.http,
        token=cluster.admin,
        query=PRODUCT_EVENTS,
        variables=only(product_id),
    ) as sub:
        connected = await sub.until("connected")
        await asyncio.sleep(SETTLE_SECONDS)
        await set_stock(cluster, product_id, 41)
        await sub.done()
    assert connected["status"] == 200
    assert connected["contentType"].startswith("multipart/mixed")
    assert sub.of("error") == []
    [line] = sub.of("next")
    assert line["payload"]["data"]["productEvents"]["node"]["stock"] == 41
    assert await settled_count(cluster.b, 0) == 0


async def test_apollo_client_over_http_is_refused_a_bad_token(cluster: Cluster, node: str) -> None:
    async with apollo(
        node, mode="subscribe", url=cluster.b.http, token="og_nope", query=ORDER_EVENTS
    ) as sub:
        await sub.done()
    assert sub.of("next") == []
    [line] = sub.of("error")
    assert line["error"]["statusCode"] == 401, sub.lines
    assert line["error"]["resultCodes"] == ["UNAUTHENTICATED"]


async def test_apollo_client_pages_through_users_with_relay_style_pagination(
    cluster: Cluster, node: str
) -> None:
    async with apollo(
        node, mode="paginate", url=cluster.b.http, token=cluster.admin, pageSize=1
    ) as run:
        done = await run.done()
    assert run.of("error") == []
    rows = await fetch_all(cluster.url, "SELECT id FROM users ORDER BY created_at, id")
    assert len(run.of("page")) > 1
    assert [pk(value) for value in done["ids"]] == [row.id for row in rows]
