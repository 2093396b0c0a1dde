"""Live change feeds across two server processes: order, gaps, resumes, rights, limits."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
import websockets
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.typing import Subprotocol

from app.graphql.events.types import event_cursor
from tests.dbtools import fetch_value
from tests.events.conftest import Cluster, Server
from tests.events.feeds import (
    ORDER_EVENTS,
    PRODUCT_EVENTS,
    a_product,
    expiring_token,
    place,
    set_stock,
)
from tests.graphql.mutations import UPDATE_PRODUCT
from tests.helpers import gid
from tests.wsclient import connect


async def test_b_delivers_the_changes_made_on_a_in_order(cluster: Cluster) -> None:
    product_id = await a_product(cluster)
    only_this = {"ids": [gid("Product", product_id)]}
    async with connect(cluster.b.ws, token=cluster.admin) as session:
        op = await session.subscribe(PRODUCT_EVENTS, {"filter": only_this})
        await asyncio.sleep(0.3)
        for stock in (11, 12, 13, 14, 15):
            await set_stock(cluster, product_id, stock)
        events = [(await session.next_data(op))["productEvents"] for _ in range(5)]
    assert [e["node"]["stock"] for e in events] == [11, 12, 13, 14, 15]
    assert [e["type"] for e in events] == ["UPDATED"] * 5
    assert all(e["changedFields"][0] == "stock" for e in events)


async def test_a_rolled_back_mutation_publishes_nothing(cluster: Cluster) -> None:
    product_id = await a_product(cluster, 1)
    await set_stock(cluster, product_id, 1)
    async with connect(cluster.b.ws, token=cluster.admin) as session:
        op = await session.subscribe(ORDER_EVENTS)
        await asyncio.sleep(0.3)
        refused = await place(cluster, cluster.admin, product_id, quantity=5)
        assert refused["errors"][0]["code"] == "OUT_OF_STOCK"
        placed = await place(cluster, cluster.admin, product_id, quantity=1)
        event = (await session.next_data(op))["orderEvents"]
    assert event["type"] == "CREATED"
    assert event["node"]["id"] == placed["order"]["id"]


async def test_resuming_with_the_last_cursor_delivers_exactly_what_was_missed(
    cluster: Cluster,
) -> None:
    product_id = await a_product(cluster, 2)
    only_this = {"ids": [gid("Product", product_id)]}
    async with connect(cluster.b.ws, token=cluster.admin) as session:
        op = await session.subscribe(PRODUCT_EVENTS, {"filter": only_this})
        await asyncio.sleep(0.3)
        await set_stock(cluster, product_id, 21)
        last = (await session.next_data(op))["productEvents"]["cursor"]
    for stock in (22, 23, 24):
        await set_stock(cluster, product_id, stock)
    async with connect(cluster.a.ws, token=cluster.admin) as session:
        op = await session.subscribe(PRODUCT_EVENTS, {"filter": only_this, "after": last})
        missed = [(await session.next_data(op))["productEvents"]["node"]["stock"] for _ in range(3)]
        await set_stock(cluster, product_id, 25)
        live = (await session.next_data(op))["productEvents"]["node"]["stock"]
        with pytest.raises(TimeoutError):
            await session.receive(wait=1)
    assert missed == [22, 23, 24]
    assert live == 25


async def test_users_only_receive_their_own_order_events(cluster: Cluster) -> None:
    product_id = await a_product(cluster, 3)
    await set_stock(cluster, product_id, 100)
    alice = await cluster.token("user000000@example.com")
    bob = await cluster.token("user000001@example.com")
    async with connect(cluster.b.ws, token=alice) as session:
        op = await session.subscribe(ORDER_EVENTS)
        await asyncio.sleep(0.3)
        await place(cluster, bob, product_id)
        mine = await place(cluster, alice, product_id)
        event = (await session.next_data(op))["orderEvents"]
        assert event["node"]["id"] == mine["order"]["id"]
        with pytest.raises(TimeoutError):
            await session.receive(wait=1)


async def test_anonymous_callers_get_product_events_only(cluster: Cluster) -> None:
    async with connect(cluster.b.ws) as session:
        op = await session.subscribe(ORDER_EVENTS)
        message = await session.receive()
    assert message["id"] == op
    assert message["type"] == "next", message
    assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    products = await session_products(cluster)
    assert products == "ok"


async def session_products(cluster: Cluster) -> str:
    """Anonymous product events arrive."""
    product_id = await a_product(cluster, 4)
    async with connect(cluster.b.ws) as session:
        only_this = {"filter": {"ids": [gid("Product", product_id)]}}
        op = await session.subscribe(PRODUCT_EVENTS, only_this)
        await asyncio.sleep(0.3)
        await set_stock(cluster, product_id, 31)
        event = (await session.next_data(op))["productEvents"]
    return "ok" if event["node"]["stock"] == 31 else str(event)


async def test_a_bad_token_closes_the_connection_with_4403(cluster: Cluster) -> None:
    protocol = [Subprotocol("graphql-transport-ws")]
    async with websockets.connect(cluster.b.ws, subprotocols=protocol) as ws:
        await ws.send('{"type": "connection_init", "payload": {"authorization": "Bearer og_nope"}}')
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_queries_and_mutations_work_over_the_websocket(cluster: Cluster) -> None:
    async with connect(cluster.b.ws, token=cluster.admin) as session:
        op = await session.subscribe("{ viewer { email } }")
        assert (await session.next_data(op)) == {"viewer": {"email": "admin@example.com"}}
        assert (await session.receive())["type"] == "complete"


async def recv_text(ws: websockets.ClientConnection, wait: float = 10) -> str:
    """The next message, which must have come as a text frame (the protocol is JSON text;
    browsers hand binary frames to the page as a Blob)."""
    message = await asyncio.wait_for(ws.recv(), wait)
    assert isinstance(message, str), f"a binary frame: {message!r}"
    return message


async def test_the_legacy_graphql_ws_protocol_works_too(cluster: Cluster) -> None:
    product_id = await a_product(cluster, 4)
    async with websockets.connect(cluster.b.ws, subprotocols=[Subprotocol("graphql-ws")]) as ws:
        await ws.send('{"type": "connection_init", "payload": {}}')
        assert '"connection_ack"' in await recv_text(ws)
        await ws.send(
            '{"type": "start", "id": "1", "payload": {"query": "subscription { productEvents '
            '{ node { stock } } }"}}'
        )
        await asyncio.sleep(0.3)
        await set_stock(cluster, product_id, 77)
        while True:
            message = await recv_text(ws)
            if '"data"' in message:
                break
    assert '"stock":77' in message


async def test_a_cursor_older_than_the_log_is_a_clear_error(cluster: Cluster) -> None:
    product_id = await a_product(cluster)
    await set_stock(cluster, product_id, 5)
    await set_stock(cluster, product_id, 6)
    first = await fetch_value(cluster.url, "SELECT min(position) FROM events")
    engine = create_async_engine(cluster.url)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM events WHERE position <= :p"), {"p": first + 1})
    await engine.dispose()

    async with connect(cluster.b.ws, token=cluster.admin) as session:
        op = await session.subscribe(PRODUCT_EVENTS, {"after": event_cursor(first - 1)})
        message = await session.receive()
    assert message["id"] == op
    assert message["type"] == "next", message
    [error] = message["payload"]["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "older than the events kept" in error["message"]


async def test_a_reader_that_stalls_does_not_hold_back_a_fast_one(cluster: Cluster) -> None:
    """A subscriber that stops reading costs the others nothing; what it does get is in
    order and without gaps, up to a SLOW_CONSUMER error if its queue overflowed (how much
    the transport buffers first is up to the network: see tests/events/test_broker.py
    for the cut-off itself)."""
    product_id = await a_product(cluster, 4)
    version = await fetch_value(
        cluster.url, "SELECT version FROM products WHERE id = :i", i=product_id
    )
    query = """subscription($f: ProductEventFilter) { productEvents(filter: $f) {
        node { stock description } } }"""
    only_this = {"f": {"ids": [gid("Product", product_id)]}}
    async with (
        connect(cluster.b.ws, token=cluster.admin) as fast,
        connect(cluster.b.ws, token=cluster.admin, receive_buffer=4096) as slow,
    ):
        fast_op = await fast.subscribe(query, only_this)
        slow_op = await slow.subscribe(query, only_this)
        await asyncio.sleep(0.3)
        stocks: list[int] = []

        async def read_fast() -> None:
            while len(stocks) < 300:
                data = await fast.next_data(fast_op, wait=20)
                stocks.append(data["productEvents"]["node"]["stock"])

        reader = asyncio.create_task(read_fast())
        for index in range(300):
            await cluster.call(
                cluster.a,
                cluster.admin,
                UPDATE_PRODUCT,
                input={
                    "id": gid("Product", product_id),
                    "expectedVersion": version + index,
                    "stock": index,
                    "description": "x" * 4000,
                },
            )
        await asyncio.wait_for(reader, 60)
        assert stocks == list(range(300))
        slow_stocks: list[int] = []
        while len(slow_stocks) < 300:
            try:
                message = await slow.receive(wait=20)
            except websockets.ConnectionClosed:
                # The server's keep-alive gave up on a client that reads nothing (on a
                # loaded machine the 300 writes outlast its ping timeout): also an end.
                break
            assert message["id"] == slow_op
            if "errors" in message["payload"]:
                assert message["payload"]["errors"][0]["extensions"]["code"] == "SLOW_CONSUMER"
                break
            slow_stocks.append(message["payload"]["data"]["productEvents"]["node"]["stock"])
    assert slow_stocks == list(range(len(slow_stocks)))


async def test_an_expired_token_ends_its_subscriptions(cluster: Cluster) -> None:
    token = await expiring_token(cluster, "user000002@example.com")
    async with connect(cluster.b.ws, token=token) as session:
        op = await session.subscribe(ORDER_EVENTS)
        message = await session.receive(wait=15)
    assert message["id"] == op
    assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in message["payload"]["errors"][0]["message"]


async def test_a_connection_that_never_says_hello_is_closed(cluster: Cluster) -> None:
    protocol = [Subprotocol("graphql-transport-ws")]
    async with websockets.connect(cluster.b.ws, subprotocols=protocol) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4408


async def test_subscriptions_per_connection_are_limited(cluster: Cluster) -> None:
    async with connect(cluster.b.ws) as session:
        for _ in range(3):
            await session.subscribe(PRODUCT_EVENTS)
        op = await session.subscribe(PRODUCT_EVENTS)
        message = await session.receive()
    assert message["id"] == op
    assert message["type"] == "error"
    [error] = message["payload"]
    assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
    assert "subscription limit" in error["message"].lower()


async def test_the_legacy_protocol_codes_the_subscription_limit_too(cluster: Cluster) -> None:
    async with websockets.connect(cluster.b.ws, subprotocols=[Subprotocol("graphql-ws")]) as ws:
        await ws.send('{"type": "connection_init", "payload": {}}')
        assert '"connection_ack"' in await recv_text(ws)
        for op in range(4):
            await ws.send(
                orjson.dumps(
                    {"type": "start", "id": str(op), "payload": {"query": PRODUCT_EVENTS}}
                ).decode()
            )
        while True:
            message = orjson.loads(await recv_text(ws))
            if message["type"] == "error":
                break
    assert message["id"] == "3"
    assert message["payload"]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"


SUBSCRIBE_OVER_HTTP = "subscription { productEvents { type } }"


async def test_a_subscription_over_plain_http_is_refused_naming_the_transports(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        answers = [
            await client.post(cluster.b.http, json={"query": SUBSCRIBE_OVER_HTTP}),
            await client.get(cluster.b.http, params={"query": SUBSCRIBE_OVER_HTTP}),
        ]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        [error] = answer.json()["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST", error
        assert "graphql-transport-ws" in error["message"]
        assert "graphql-ws" in error["message"]
        assert "multipart/mixed;subscriptionSpec" in error["message"]


async def subscribers(server: Server) -> int:
    async with httpx.AsyncClient(timeout=30) as client:
        metrics = (await client.get(f"http://127.0.0.1:{server.port}/metrics")).text
    [count] = [
        line.split()[1]
        for line in metrics.splitlines()
        if line.startswith("ordergraph_subscribers ")
    ]
    return int(float(count))


async def settled_count(server: Server, expected: int) -> int:
    """The subscriber count once it is `expected`, or what it still is after 5 s."""
    for _ in range(50):
        count = await subscribers(server)
        if count == expected:
            return count
        await asyncio.sleep(0.1)
    return count


async def test_a_completed_subscription_leaves_the_broker_at_once(cluster: Cluster) -> None:
    before = await subscribers(cluster.b)
    async with connect(cluster.b.ws) as session:
        ops = [await session.subscribe(PRODUCT_EVENTS) for _ in range(2)]
        assert await settled_count(cluster.b, before + 2) == before + 2
        for op in ops:
            await session.send({"id": op, "type": "complete"})
        # Still connected: only closing the resolver's generator makes it leave.
        assert await settled_count(cluster.b, before) == before


async def test_queries_on_one_socket_do_not_share_cached_rows(cluster: Cluster) -> None:
    product_id = await a_product(cluster, 3)
    query = "query($id: ID!) { product(id: $id) { stock } }"
    variables = {"id": gid("Product", product_id)}
    async with connect(cluster.b.ws, token=cluster.admin) as session:
        await set_stock(cluster, product_id, 51)
        op = await session.subscribe(query, variables)
        assert (await session.next_data(op))["product"]["stock"] == 51
        await session.receive()  # complete
        await set_stock(cluster, product_id, 52)
        op = await session.subscribe(query, variables)
        assert (await session.next_data(op))["product"]["stock"] == 52


async def test_the_token_may_come_in_the_handshake_header(cluster: Cluster) -> None:
    headers = {"authorization": f"Bearer {cluster.admin}"}
    async with connect(cluster.b.ws, headers=headers) as session:
        op = await session.subscribe("{ viewer { email } }")
        assert (await session.next_data(op)) == {"viewer": {"email": "admin@example.com"}}


async def test_a_bad_header_token_closes_the_connection_with_4403(cluster: Cluster) -> None:
    protocol = [Subprotocol("graphql-transport-ws")]
    headers = {"authorization": "Bearer og_nope"}
    async with websockets.connect(
        cluster.b.ws, subprotocols=protocol, additional_headers=headers
    ) as ws:
        await ws.send('{"type": "connection_init", "payload": {}}')
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
