"""The fast path (app.graphql.events.fast) keeps every promise of the usual one: order
with the operation's other messages, SLOW_CONSUMER, a credential's expiry, and each
viewer's own events only. Each test also shows its events did go the fast way
(ordergraph_event_frames_direct_total on the server's /metrics)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest

from app.auth.api_tokens import token_hash
from tests.dbtools import fetch_value
from tests.events.conftest import Cluster, Server
from tests.events.feeds import (
    PRODUCT_EVENTS,
    a_product,
    expiring_token,
    flood,
    place,
    set_stock,
)
from tests.helpers import gid
from tests.wsclient import connect

# No resolver below the subscription field: its results may go to anyone sent the event.
PLAIN_ORDER_EVENTS = "subscription { orderEvents { cursor occurredAt node { id status } } }"


async def direct_frames(server: Server) -> int:
    async with httpx.AsyncClient() as client:
        text = (await client.get(server.http.replace("/graphql", "/metrics"))).text
    values = dict(line.split() for line in text.splitlines() if not line.startswith("#"))
    return int(float(values["ordergraph_event_frames_direct_total"]))


async def test_direct_events_arrive_in_order_and_before_the_expiry_error_and_complete(
    cluster: Cluster,
) -> None:
    product_id = await a_product(cluster, 0)
    await set_stock(cluster, product_id, 1000)
    token = await expiring_token(cluster, "user000002@example.com", seconds=4)
    expires_at = await fetch_value(
        cluster.url, "SELECT expires_at FROM api_tokens WHERE token_hash = :h", h=token_hash(token)
    )
    before = await direct_frames(cluster.b)
    received: list[dict[str, object]] = []
    placed: list[str] = []
    async with connect(cluster.b.ws, token=token) as session:
        op = await session.subscribe(PLAIN_ORDER_EVENTS)
        await asyncio.sleep(0.3)

        async def keep_placing() -> None:
            # Orders before, and after, the credential expires: only the first may arrive.
            placer = await cluster.token("user000002@example.com")
            for _ in range(40):
                order = await place(cluster, placer, product_id)
                placed.append(order["order"]["id"])
                await asyncio.sleep(0.15)

        placing = asyncio.create_task(keep_placing())
        try:
            while True:
                message = await session.receive(wait=20)
                assert message["id"] == op
                if message["type"] != "next" or "errors" in message["payload"]:
                    break
                received.append(message["payload"]["data"]["orderEvents"])
            assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert (await session.receive(wait=10)) == {"id": op, "type": "complete"}
            with pytest.raises(TimeoutError):
                await session.receive(wait=1)  # nothing for the operation after complete
        finally:
            placing.cancel()
            await asyncio.gather(placing, return_exceptions=True)
    ids = [event["node"]["id"] for event in received]  # type: ignore[index]
    assert len(received) >= 3
    assert ids == placed[: len(ids)]  # in order, without a gap
    for event in received:
        occurred = datetime.fromisoformat(str(event["occurredAt"]))
        assert occurred < expires_at  # nothing that happened after the expiry
    assert await direct_frames(cluster.b) - before >= len(received) - 1


class RawSubscriber:
    """A graphql-transport-ws client on a bare socket, so that not reading really means
    not reading (a client library reads ahead into its own buffers)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, token: str) -> RawSubscriber:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n"
            "\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        client = cls(reader, writer)
        await client.send(
            {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        )
        assert (await client.receive())["type"] == "connection_ack"
        return client

    async def send(self, message: dict[str, object]) -> None:
        payload = orjson.dumps(message)
        assert len(payload) < 65536
        mask = os.urandom(4)
        length = bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.writer.write(bytes([0x81]) + length + mask + masked)
        await self.writer.drain()

    async def receive(self, wait: float = 20) -> dict[str, Any]:
        while True:
            head = await asyncio.wait_for(self.reader.readexactly(2), wait)
            assert head[0] & 0x70 == 0, "compressed: the handshake offered no extension"
            length = head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            payload = await self.reader.readexactly(length)
            if head[0] & 0x0F == 0x1:  # a text frame (pings and the like are skipped)
                message: dict[str, Any] = orjson.loads(payload)
                if message["type"] not in {"ping", "pong"}:
                    return message

    def close(self) -> None:
        self.writer.close()


async def test_a_stalled_reader_on_the_fast_path_gets_its_events_in_order_then_slow_consumer(
    cluster: Cluster,
) -> None:
    product_id = await a_product(cluster, 1)
    version = await fetch_value(
        cluster.url, "SELECT version FROM products WHERE id = :i", i=product_id
    )
    # Some 40 KB an event (ten copies of a 4,000-character description): the socket's
    # buffers (a few MB at most) fill within a hundred events.
    copies = " ".join(f"d{n}: description" for n in range(10))
    query = f"""subscription($f: ProductEventFilter) {{ productEvents(filter: $f) {{
        node {{ stock {copies} }} }} }}"""
    only_this = {"f": {"ids": [gid("Product", product_id)]}}
    before = await direct_frames(cluster.b)
    slow = await RawSubscriber.open(cluster.b.port, cluster.admin)
    try:
        await slow.send(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": only_this}}
        )
        await asyncio.sleep(0.3)
        # Large events, nobody reading: the socket fills, then the frames pile up at the
        # server until the subscriber's limit (SUBSCRIBER_QUEUE_SIZE=20) cuts it off.
        await flood(cluster, product_id, version=version, count=150, size=4000)
        stocks: list[int] = []
        code = None
        while True:
            message = await slow.receive()
            assert message["id"] == "1"
            if message["type"] == "complete":
                break
            if "errors" in message["payload"]:
                code = message["payload"]["errors"][0]["extensions"]["code"]
                continue
            assert code is None, "an event after the error"
            stocks.append(message["payload"]["data"]["productEvents"]["node"]["stock"])
    finally:
        slow.close()
    assert stocks == list(range(len(stocks)))
    assert len(stocks) < 150
    assert code == "SLOW_CONSUMER"
    assert await direct_frames(cluster.b) - before >= 20


async def test_the_fast_path_sends_no_viewer_anothers_events(cluster: Cluster) -> None:
    product_id = await a_product(cluster, 0)
    await set_stock(cluster, product_id, 1000)
    alice = await cluster.token("user000000@example.com")
    bob = await cluster.token("user000001@example.com")
    before = await direct_frames(cluster.b)
    async with (
        connect(cluster.b.ws, token=alice) as alices,
        connect(cluster.b.ws, token=bob) as bobs,
        connect(cluster.b.ws, token=cluster.admin) as admins,
    ):
        ops = [await s.subscribe(PLAIN_ORDER_EVENTS) for s in (alices, bobs, admins)]
        await asyncio.sleep(0.3)
        orders: dict[str, list[str]] = {"alice": [], "bob": []}
        for _ in range(4):
            for name, token in (("alice", alice), ("bob", bob)):
                orders[name].append((await place(cluster, token, product_id))["order"]["id"])

        async def ids(session: object, op: str, count: int) -> list[str]:
            return [
                (await session.next_data(op))["orderEvents"]["node"]["id"]  # type: ignore[attr-defined]
                for _ in range(count)
            ]

        assert await ids(alices, ops[0], 4) == orders["alice"]
        assert await ids(bobs, ops[1], 4) == orders["bob"]
        everyone = [
            order for pair in zip(orders["alice"], orders["bob"], strict=True) for order in pair
        ]
        assert await ids(admins, ops[2], 8) == everyone
        for session in (alices, bobs):
            with pytest.raises(TimeoutError):
                await session.receive(wait=1)
    # The first event of the document goes the usual way; the others went direct.
    assert await direct_frames(cluster.b) - before >= 12


async def test_a_selection_that_runs_a_resolver_never_goes_direct(cluster: Cluster) -> None:
    product_id = await a_product(cluster, 0)
    await set_stock(cluster, product_id, 1000)
    alice = await cluster.token("user000000@example.com")
    before = await direct_frames(cluster.b)
    with_owner = "subscription { orderEvents { node { id user { email } } } }"
    async with connect(cluster.b.ws, token=alice) as session:
        op = await session.subscribe(with_owner)
        await asyncio.sleep(0.3)
        for _ in range(3):
            await place(cluster, alice, product_id)
        for _ in range(3):
            event = (await session.next_data(op))["orderEvents"]
            assert event["node"]["user"]["email"] == "user000000@example.com"
    assert await direct_frames(cluster.b) == before


async def test_product_events_go_direct_to_every_subscriber_of_the_document(
    cluster: Cluster,
) -> None:
    product_id = await a_product(cluster, 2)
    only_this = {"filter": {"ids": [gid("Product", product_id)]}}
    before = await direct_frames(cluster.b)
    async with connect(cluster.b.ws) as one, connect(cluster.b.ws) as two:
        ops = [
            await one.subscribe(PRODUCT_EVENTS, only_this),
            await two.subscribe(PRODUCT_EVENTS, only_this),
        ]
        await asyncio.sleep(0.3)
        for stock in range(50, 55):
            await set_stock(cluster, product_id, stock)
        for session, op in zip((one, two), ops, strict=True):
            stocks = [
                (await session.next_data(op))["productEvents"]["node"]["stock"] for _ in range(5)
            ]
            assert stocks == list(range(50, 55))
    # All but the first event's two, when this document had not been seen before.
    assert await direct_frames(cluster.b) - before >= 8
