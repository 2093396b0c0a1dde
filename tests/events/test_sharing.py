"""Fan-out shares one execution per event, document and viewer class, and only where
the rules allow: counted on the server's /metrics. And what a subscriber costs the
server in compression."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import websockets
from websockets.typing import Subprotocol

from tests.events.conftest import Cluster, Server, start_server, stop_server
from tests.events.feeds import PRODUCT_EVENTS, a_product, place, set_stock
from tests.helpers import gid
from tests.wsclient import Session, connect

# `user { email }` runs a resolver, which applies the reader's rights: shared only
# between subscribers who are the same viewer.
ORDERS_WITH_OWNER = """subscription { orderEvents {
  cursor node { id status user { id email } } } }"""


async def counters(server: Server) -> tuple[int, int]:
    """(event executions, deliveries that took a shared result) on this server."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(server.http.replace("/graphql", "/metrics"))).text
    values = dict(line.split() for line in text.splitlines() if not line.startswith("#"))
    return (
        int(float(values["ordergraph_event_executions_total"])),
        int(float(values["ordergraph_event_results_shared_total"])),
    )


async def test_subscribers_of_one_document_share_one_execution_per_event(
    cluster: Cluster,
) -> None:
    product_id = await a_product(cluster, 2)
    alice = await cluster.token("user000000@example.com")
    only_this = {"filter": {"ids": [gid("Product", product_id)]}}
    # Anonymous, an admin and a user, two with a filter and one without: the selection
    # reads the event's snapshot only, so the viewer and the filter change nothing in it.
    async with contextlib.AsyncExitStack() as stack:
        sessions: list[tuple[Session, str]] = []
        for token, variables in [
            (None, only_this),
            (cluster.admin, only_this),
            (alice, only_this),
            (alice, {}),
        ]:
            session = await stack.enter_async_context(connect(cluster.b.ws, token=token))
            sessions.append((session, await session.subscribe(PRODUCT_EVENTS, variables)))
        await asyncio.sleep(0.3)
        before = await counters(cluster.b)
        for stock in (41, 42, 43):
            await set_stock(cluster, product_id, stock)
        received = [
            [(await session.next_data(op))["productEvents"] for _ in range(3)]
            for session, op in sessions
        ]
        after = await counters(cluster.b)
    for events in received:
        assert [e["node"]["stock"] for e in events] == [41, 42, 43]
        assert [e["node"]["id"] for e in events] == [gid("Product", product_id)] * 3
    assert received[0] == received[1] == received[2] == received[3]
    assert (after[0] - before[0], after[1] - before[1]) == (3, 9)


async def test_a_selection_that_runs_resolvers_is_shared_only_by_the_same_viewer(
    cluster: Cluster,
) -> None:
    product_id = await a_product(cluster, 3)
    await set_stock(cluster, product_id, 100)
    alice_email, bob_email = "user000001@example.com", "user000002@example.com"
    alice, bob = await cluster.token(alice_email), await cluster.token(bob_email)
    async with contextlib.AsyncExitStack() as stack:

        async def subscriber(token: str) -> tuple[Session, str]:
            session = await stack.enter_async_context(connect(cluster.b.ws, token=token))
            return session, await session.subscribe(ORDERS_WITH_OWNER)

        admins = [await subscriber(cluster.admin) for _ in range(2)]
        alices = [await subscriber(alice) for _ in range(2)]
        bobs = [await subscriber(bob)]
        await asyncio.sleep(0.3)
        before = await counters(cluster.b)
        alices_order = (await place(cluster, alice, product_id))["order"]
        seen = {
            name: [(await s.next_data(op))["orderEvents"]["node"] for s, op in group]
            for name, group in (("admins", admins), ("alices", alices))
        }
        after_alices = await counters(cluster.b)
        bobs_order = (await place(cluster, bob, product_id))["order"]
        # Bob's first event is his own order, with his own address: never Alice's
        # payload through the share.
        bobs_event = (await bobs[0][0].next_data(bobs[0][1]))["orderEvents"]["node"]
        for session, op in admins:
            assert (await session.next_data(op))["orderEvents"]["node"]["id"] == bobs_order["id"]
        for session, _ in alices:
            with contextlib.suppress(TimeoutError):
                message = await session.receive(wait=1)
                raise AssertionError(f"Alice received Bob's order: {message}")
    for node in seen["admins"] + seen["alices"]:
        assert node["id"] == alices_order["id"]
        assert node["user"]["email"] == alice_email
    assert bobs_event["id"] == bobs_order["id"]
    assert bobs_event["user"]["email"] == bob_email
    # Alice's order: one execution for the admins, one for Alice's two subscriptions.
    assert (after_alices[0] - before[0], after_alices[1] - before[1]) == (2, 2)


async def test_websockets_decline_compression_unless_ws_per_message_deflate_is_on(
    cluster: Cluster, redis_url: str, tmp_path: Path
) -> None:
    protocols = [Subprotocol("graphql-transport-ws")]
    async with websockets.connect(
        cluster.b.ws, subprotocols=protocols, compression="deflate"
    ) as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
    compressing = start_server(
        cluster.url, redis_url, tmp_path / "deflate.log", WS_PER_MESSAGE_DEFLATE="true"
    )
    try:
        async with websockets.connect(
            compressing.ws, subprotocols=protocols, compression="deflate"
        ) as ws:
            assert ws.response is not None
            assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
        async with connect(compressing.ws) as session:  # and it serves subscriptions too
            product_id = await a_product(cluster, 2)
            op = await session.subscribe(
                PRODUCT_EVENTS, {"filter": {"ids": [gid("Product", product_id)]}}
            )
            await asyncio.sleep(0.3)
            await set_stock(cluster, product_id, 44)
            assert (await session.next_data(op))["productEvents"]["node"]["stock"] == 44
    finally:
        stop_server(compressing)
