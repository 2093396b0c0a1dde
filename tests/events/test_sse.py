"""GraphQL over Server-Sent Events (graphql-sse), against two real server processes:
through the reference graphql-sse client in Node, in both of its modes (distinct
connections, and single connection with a reserved stream), and with httpx for what a
client library does not show (keep-alives, disconnects, limits). The protocol of single
connection mode itself (tokens, owners, operation ids) is tested in test_sse_single.py."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import token_for
from tests.dbtools import fetch_value
from tests.events.conftest import Cluster, Server, _cluster
from tests.events.feeds import (
    ORDER_EVENTS,
    PRODUCT_EVENTS,
    a_product,
    expiring_token,
    flood,
    set_stock,
)
from tests.events.node import NODE_DIR, NodeSubscription, node_or_skip, node_subscribe
from tests.events.test_subscriptions import settled_count, subscribers
from tests.helpers import gid

SSE_SUBSCRIBE = NODE_DIR / "graphql_sse_subscribe.mjs"
# Long enough for the server to have registered the subscription once the stream opened.
SETTLE_SECONDS = 0.5
MAX_STREAMS = 2
EVENT_STREAM = {"accept": "text/event-stream"}
# The client's two modes: a stream per operation, or one reserved stream for them all.
MODES = ["distinct", "single"]


@pytest.fixture(scope="module")
async def cluster(
    server_url: str, template_db: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    async for value in _cluster(
        server_url,
        template_db,
        redis_url,
        tmp_path_factory.mktemp("sse"),
        SUBSCRIBER_QUEUE_SIZE="20",
        AUTH_CACHE_SECONDS="2",
        SSE_KEEPALIVE_SECONDS="0.5",
        SSE_MAX_STREAMS=str(MAX_STREAMS),
    ):
        yield value


@pytest.fixture
def node() -> str:
    node = node_or_skip()
    if not (NODE_DIR / "node_modules" / "graphql-sse").is_dir():
        pytest.skip("tests/node packages are not installed: npm ci --prefix tests/node")
    return node


def sse_subscribe(
    node: str, url: str, query: str, *, mode: str = "distinct", **options: Any
) -> AbstractAsyncContextManager[NodeSubscription]:
    """Run one operation with graphql-sse's createClient in `mode`."""
    extra = {"singleConnection": mode == "single"}
    return node_subscribe(node, url, query, script=SSE_SUBSCRIBE, extra=extra, **options)


async def operation_accepted(sub: NodeSubscription) -> dict[str, Any]:
    """The answer to the operation's POST: its stream (distinct connections mode), or
    202 once the reserved stream is open (single connection mode)."""
    while True:
        line = await sub.until("connected")
        if line["method"] == "POST":
            return line


def only(product_id: uuid.UUID) -> dict[str, Any]:
    return {"filter": {"ids": [gid("Product", product_id)]}}


def stocks(lines: list[dict[str, Any]]) -> list[int]:
    return [line["payload"]["data"]["productEvents"]["node"]["stock"] for line in lines]


@pytest.mark.parametrize("mode", MODES)
async def test_graphql_sse_in_node_on_b_receives_a_product_change_made_on_a(
    cluster: Cluster, node: str, mode: str
) -> None:
    product_id = await a_product(cluster, MODES.index(mode))
    async with sse_subscribe(
        node,
        cluster.b.http,
        PRODUCT_EVENTS,
        mode=mode,
        token=cluster.admin,
        variables=only(product_id),
    ) as sub:
        accepted = await operation_accepted(sub)
        await asyncio.sleep(SETTLE_SECONDS)
        await set_stock(cluster, product_id, 41)
        await sub.done()
    assert sub.of("error") == []
    assert stocks(sub.of("next")) == [41]
    streams = [line for line in sub.of("connected") if line["method"] == "GET"]
    if mode == "distinct":
        assert (accepted["status"], streams) == (200, [])
        assert accepted["contentType"].startswith("text/event-stream")
    else:
        # Reserved (PUT), the one stream opened (GET), the operation accepted (POST).
        assert [line["method"] for line in sub.of("connected")[:3]] == ["PUT", "GET", "POST"]
        assert sub.of("connected")[0]["status"] == 201
        [stream] = streams
        assert stream["status"] == 200
        assert stream["contentType"].startswith("text/event-stream")
        assert accepted["status"] == 202


@pytest.mark.parametrize("mode", MODES)
async def test_graphql_sse_in_node_resumes_with_after_exactly_what_was_missed(
    cluster: Cluster, node: str, mode: str
) -> None:
    product_id = await a_product(cluster, 2 + MODES.index(mode))
    variables = only(product_id)
    async with sse_subscribe(
        node, cluster.b.http, PRODUCT_EVENTS, mode=mode, token=cluster.admin, variables=variables
    ) as sub:
        await operation_accepted(sub)
        await asyncio.sleep(SETTLE_SECONDS)
        await set_stock(cluster, product_id, 51)
        first = await sub.until("next")
        await sub.done()
    last = first["payload"]["data"]["productEvents"]["cursor"]
    for stock in (52, 53, 54):
        await set_stock(cluster, product_id, stock)

    # Three missed, one live, then a second with nothing more: no gap, no duplicate.
    variables["after"] = last
    async with sse_subscribe(
        node,
        cluster.a.http,
        PRODUCT_EVENTS,
        mode=mode,
        token=cluster.admin,
        variables=variables,
        count=4,
        linger_ms=1000,
    ) as sub:
        for _ in range(3):
            await sub.until("next")
        await set_stock(cluster, product_id, 55)
        await sub.done()
    assert stocks(sub.of("next")) == [52, 53, 54, 55]


@pytest.mark.parametrize("mode", MODES)
async def test_graphql_sse_in_node_is_refused_a_bad_token_with_401(
    cluster: Cluster, node: str, mode: str
) -> None:
    async with sse_subscribe(node, cluster.b.http, ORDER_EVENTS, mode=mode, token="og_nope") as sub:
        await sub.done()
    [error] = sub.of("error")
    assert error["status"] == 401
    assert sub.of("next") == []
    # Refused at the first request: the operation's own (distinct), the reservation
    # (single), so no stream was ever opened.
    [refused] = sub.of("connected")
    assert refused["method"] == ("POST" if mode == "distinct" else "PUT")
    assert refused["status"] == 401
    assert refused["body"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("mode", MODES)
async def test_graphql_sse_in_node_runs_a_query_as_one_result_then_complete(
    cluster: Cluster, node: str, mode: str
) -> None:
    async with sse_subscribe(
        node, cluster.b.http, "{ viewer { email } }", mode=mode, token=cluster.admin, count=0
    ) as sub:
        await sub.until("complete")
        await sub.done()
    assert [line["payload"] for line in sub.of("next")] == [
        {"data": {"viewer": {"email": "admin@example.com"}}}
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_graphql_sse_in_node_ends_with_unauthenticated_when_the_token_expires(
    cluster: Cluster, node: str, mode: str
) -> None:
    token = await expiring_token(cluster, "user000002@example.com")
    async with sse_subscribe(
        node, cluster.b.http, ORDER_EVENTS, mode=mode, token=token, count=5
    ) as sub:
        await sub.until("complete")
        await sub.done()
    [ended] = sub.of("next")
    [error] = ended["payload"]["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in error["message"]
    assert sub.of("error") == []


@pytest.mark.parametrize("mode", MODES)
async def test_graphql_sse_in_node_that_goes_away_leaves_nothing_behind(
    cluster: Cluster, node: str, mode: str
) -> None:
    before = await subscribers(cluster.b)
    async with sse_subscribe(
        node, cluster.b.http, PRODUCT_EVENTS, mode=mode, token=cluster.admin
    ) as sub:
        await operation_accepted(sub)
        assert await settled_count(cluster.b, before + 1) == before + 1
        if mode == "single":
            assert await sse_gauges(cluster.b) == {"reservations": 1, "operations": 1}
    # Killed without a word: the stream's connection closes, and its subscriber (and,
    # single, its reservation and operation) go with it.
    assert await settled_count(cluster.b, before) == before
    assert await sse_gauges(cluster.b) == {"reservations": 0, "operations": 0}


async def sse_gauges(server: Server) -> dict[str, int]:
    """The reservations and operations of single connection mode on `server`."""
    async with httpx.AsyncClient(timeout=30) as client:
        metrics = (await client.get(f"http://127.0.0.1:{server.port}/metrics")).text
    gauges = {}
    for line in metrics.splitlines():
        name, _, value = line.partition(" ")
        if name in {"ordergraph_sse_reservations", "ordergraph_sse_operations"}:
            gauges[name.removeprefix("ordergraph_sse_")] = int(float(value))
    return gauges


@asynccontextmanager
async def stream(
    server: Server, query: str, *, token: str | None = None, **variables: object
) -> AsyncIterator[httpx.Response]:
    headers = {**EVENT_STREAM, **({"authorization": f"Bearer {token}"} if token else {})}
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream(
            "POST", server.http, json={"query": query, "variables": variables}, headers=headers
        ) as response,
    ):
        yield response


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event, data) per SSE message, and (":", None) per comment."""
    name, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield ":", None
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data = line.removeprefix("data:").strip()
        elif line == "" and name:
            yield name, orjson.loads(data) if data else None
            name, data = "", ""


async def test_a_get_streams_a_query_as_one_next_then_complete(cluster: Cluster) -> None:
    """The way a browser's EventSource asks (it can only GET)."""
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream(
            "GET",
            cluster.b.http,
            params={"query": "{ products(first: 1) { edges { node { sku } } } }"},
            headers=EVENT_STREAM,
        ) as response,
    ):
        assert response.status_code == 200
        received = [event async for event in events(response)]
    [(kind, result), end] = received
    assert kind == "next"
    assert len(result["data"]["products"]["edges"]) == 1
    assert end == ("complete", None)


async def test_an_idle_stream_gets_keepalive_comments(cluster: Cluster) -> None:
    async with stream(cluster.b, PRODUCT_EVENTS) as response:
        assert response.status_code == 200
        received = []
        async with asyncio.timeout(10):
            async for event in events(response):
                received.append(event)
                if len(received) == 2:
                    break
    assert received == [(":", None), (":", None)]


async def test_a_client_that_goes_away_leaves_the_broker(cluster: Cluster) -> None:
    before = await subscribers(cluster.b)
    async with stream(cluster.b, PRODUCT_EVENTS) as response:
        assert response.status_code == 200
        assert await settled_count(cluster.b, before + 1) == before + 1
    # The client closed the connection without a word: the subscriber goes with it.
    assert await settled_count(cluster.b, before) == before


async def test_validation_errors_arrive_as_a_next_event_then_complete(cluster: Cluster) -> None:
    async with stream(cluster.b, "subscription { noSuchField }") as response:
        assert response.status_code == 200
        received = [event async for event in events(response)]
    [(kind, result), end] = received
    assert kind == "next"
    assert "noSuchField" in result["errors"][0]["message"]
    # Coded as plain HTTP codes it.
    assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert end == ("complete", None)


async def test_an_expired_token_ends_the_stream_with_unauthenticated(cluster: Cluster) -> None:
    token = await expiring_token(cluster, "user000002@example.com")
    async with stream(cluster.b, ORDER_EVENTS, token=token) as response:
        assert response.status_code == 200
        async with asyncio.timeout(15):
            received = [event async for event in events(response) if event[0] != ":"]
    [(kind, result), end] = received
    assert kind == "next"
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in result["errors"][0]["message"]
    assert end == ("complete", None)


async def test_event_streams_per_caller_are_limited(cluster: Cluster) -> None:
    token = await token_for(cluster.url, "user000000@example.com")
    other = await token_for(cluster.url, "user000001@example.com")
    async with stream(cluster.b, ORDER_EVENTS, token=token) as one:
        async with stream(cluster.b, ORDER_EVENTS, token=token) as two:
            async with stream(cluster.b, ORDER_EVENTS, token=token) as refused:
                await refused.aread()
            # Someone else is not held back by this caller's streams.
            async with stream(cluster.b, ORDER_EVENTS, token=other) as others:
                assert others.status_code == 200
        assert (one.status_code, two.status_code) == (200, 200)
        assert refused.status_code == 429
        [error] = refused.json()["errors"]
        assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        assert "SSE_MAX_STREAMS" in error["message"]
        # Closing one frees its place.
        for _ in range(50):
            async with stream(cluster.b, ORDER_EVENTS, token=token) as again:
                if again.status_code == 200:
                    break
            await asyncio.sleep(0.1)
        assert again.status_code == 200


async def test_plain_http_names_sse_among_the_subscription_transports(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(
            cluster.b.http, json={"query": "subscription { productEvents { type } }"}
        )
    assert answer.status_code == 400
    assert "text/event-stream" in answer.json()["errors"][0]["message"]


# Fifteen copies of a 5,000-character description: a few hundred events fill what the
# kernel buffers between a server and a client that reads nothing.
BULKY_EVENTS = (
    "subscription($f: ProductEventFilter) { productEvents(filter: $f) { node { stock "
    + " ".join(f"d{n}: description" for n in range(15))
    + " } } }"
)


async def test_a_reader_that_stops_reading_is_cut_off_with_slow_consumer(
    cluster: Cluster,
) -> None:
    """What it received is in order and without gaps, then SLOW_CONSUMER, then complete."""
    product_id = await a_product(cluster, 4)
    version = await fetch_value(
        cluster.url, "SELECT version FROM products WHERE id = :i", i=product_id
    )
    body = orjson.dumps(
        {"query": BULKY_EVENTS, "variables": {"f": {"ids": [gid("Product", product_id)]}}}
    )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", cluster.b.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n"
        b"content-type: application/json\r\nconnection: close\r\n"
        + f"authorization: Bearer {cluster.admin}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    assert (await reader.readline()).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(SETTLE_SECONDS)
    await flood(cluster, product_id, version=version, count=150, size=5000)
    async with asyncio.timeout(30):
        raw = await reader.read()
    writer.close()
    results = [orjson.loads(data) for data in re.findall(rb"data: (\{.*?\})\n", raw)]
    delivered = [result["data"]["productEvents"]["node"]["stock"] for result in results[:-1]]
    assert delivered == list(range(len(delivered)))
    assert len(delivered) < 150
    assert results[-1]["errors"][0]["extensions"]["code"] == "SLOW_CONSUMER"
    # The last chunk: complete, then the chunked body's end.
    assert raw.endswith(b"event: complete\ndata: \n\n\r\n0\r\n\r\n")


async def test_a_reserved_stream_whose_reader_stops_reading_cuts_its_operation_off(
    cluster: Cluster,
) -> None:
    """Single connection mode: the operation's results in order and without gaps, then
    SLOW_CONSUMER and its complete, on the one stream."""
    product_id = await a_product(cluster, 1)
    version = await fetch_value(
        cluster.url, "SELECT version FROM products WHERE id = :i", i=product_id
    )
    auth = {"authorization": f"Bearer {cluster.admin}"}
    async with httpx.AsyncClient(timeout=30) as client:
        token = (await client.put(cluster.b.http, headers=auth)).text
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", cluster.b.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(
            f"GET /graphql?token={token} HTTP/1.1\r\nhost: 127.0.0.1\r\n".encode()
            + b"accept: text/event-stream\r\nconnection: close\r\n"
            + f"authorization: Bearer {cluster.admin}\r\n\r\n".encode()
        )
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        answer = await client.post(
            cluster.b.http,
            json={
                "query": BULKY_EVENTS,
                "variables": {"f": {"ids": [gid("Product", product_id)]}},
                "extensions": {"operationId": "bulky"},
            },
            headers={**auth, "x-graphql-event-stream-token": token},
        )
        assert answer.status_code == 202
        await asyncio.sleep(SETTLE_SECONDS)
        await flood(cluster, product_id, version=version, count=150, size=5000)
        # Read what is there until the operation's complete (the stream stays open).
        raw = b""
        async with asyncio.timeout(30):
            while b'event: complete\ndata: {"id":"bulky"}' not in raw:
                raw += await reader.read(65536)
        writer.close()
    messages = [orjson.loads(data) for data in re.findall(rb"data: (\{.*?\})\n", raw)]
    *results, complete = messages
    assert complete == {"id": "bulky"}
    assert {message["id"] for message in results} == {"bulky"}
    payloads = [message["payload"] for message in results]
    delivered = [payload["data"]["productEvents"]["node"]["stock"] for payload in payloads[:-1]]
    assert delivered == list(range(len(delivered)))
    assert len(delivered) < 150
    assert payloads[-1]["errors"][0]["extensions"]["code"] == "SLOW_CONSUMER"
