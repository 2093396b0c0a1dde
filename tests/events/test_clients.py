"""Live feeds through the clients users run, against two real server processes: the
reference graphql-ws client in Node, and Python's gql.

A subscriber on instance b receives what is committed through instance a; every frame
the server sends is a text frame (a browser hands a binary one to the page as a Blob,
and graphql-ws refuses it).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from gql import Client, GraphQLRequest, gql
from gql.transport.websockets import WebsocketsTransport
from websockets.typing import Subprotocol

from tests.dbtools import fetch_value
from tests.events.conftest import Cluster
from tests.events.feeds import ORDER_EVENTS, PRODUCT_EVENTS, a_product, place, set_stock
from tests.events.node import node_or_skip, node_subscribe
from tests.graphql.mutations import UPDATE_PRODUCT
from tests.helpers import gid
from tests.wsclient import text_message

# Long enough for the server to have registered the subscription after connection_ack.
SETTLE_SECONDS = 0.5


@pytest.fixture
def node() -> str:
    return node_or_skip()


def only(product_id: uuid.UUID) -> dict[str, Any]:
    return {"filter": {"ids": [gid("Product", product_id)]}}


def stocks(lines: list[dict[str, Any]]) -> list[int]:
    return [line["payload"]["data"]["productEvents"]["node"]["stock"] for line in lines]


async def test_graphql_ws_in_node_on_b_receives_a_product_change_made_on_a(
    cluster: Cluster, node: str
) -> None:
    product_id = await a_product(cluster, 0)
    async with node_subscribe(
        node, cluster.b.ws, PRODUCT_EVENTS, token=cluster.admin, variables=only(product_id)
    ) as sub:
        await sub.until("connected")
        await asyncio.sleep(SETTLE_SECONDS)
        await set_stock(cluster, product_id, 41)
        done = await sub.done()
    assert sub.of("error") == []
    assert stocks(sub.of("next")) == [41]
    assert done["frames"] > 0
    assert done["binary"] == 0


async def test_graphql_ws_in_node_on_b_receives_an_order_placed_on_a(
    cluster: Cluster, node: str
) -> None:
    product_id = await a_product(cluster, 1)
    await set_stock(cluster, product_id, 100)
    alice = await cluster.token("user000000@example.com")
    async with node_subscribe(node, cluster.b.ws, ORDER_EVENTS, token=alice) as sub:
        await sub.until("connected")
        await asyncio.sleep(SETTLE_SECONDS)
        placed = await place(cluster, alice, product_id)
        await sub.done()
    [event] = [line["payload"]["data"]["orderEvents"] for line in sub.of("next")]
    assert event["type"] == "CREATED"
    assert event["node"]["id"] == placed["order"]["id"]


async def test_graphql_ws_in_node_is_refused_a_bad_token_with_4403(
    cluster: Cluster, node: str
) -> None:
    async with node_subscribe(node, cluster.b.ws, ORDER_EVENTS, token="og_nope") as sub:
        await sub.done()
    assert [line["code"] for line in sub.of("closed")] == [4403]
    assert sub.of("connected") == []
    assert sub.of("next") == []


async def test_graphql_ws_in_node_resumes_with_after_exactly_what_was_missed(
    cluster: Cluster, node: str
) -> None:
    product_id = await a_product(cluster, 2)
    variables = only(product_id)
    async with node_subscribe(
        node, cluster.b.ws, PRODUCT_EVENTS, token=cluster.admin, variables=variables
    ) as sub:
        await sub.until("connected")
        await asyncio.sleep(SETTLE_SECONDS)
        await set_stock(cluster, product_id, 51)
        first = await sub.until("next")
        await sub.done()
    last = first["payload"]["data"]["productEvents"]["cursor"]
    for stock in (52, 53, 54):
        await set_stock(cluster, product_id, stock)

    # Three missed, one live, then a second with nothing more: no gap, no duplicate.
    variables["after"] = last
    async with node_subscribe(
        node,
        cluster.a.ws,
        PRODUCT_EVENTS,
        token=cluster.admin,
        variables=variables,
        count=4,
        linger_ms=1000,
    ) as sub:
        for _ in range(3):
            await sub.until("next")
        await set_stock(cluster, product_id, 55)
        done = await sub.done()
    assert stocks(sub.of("next")) == [52, 53, 54, 55]
    assert done["binary"] == 0


async def test_the_legacy_graphql_ws_protocol_sends_text_frames(cluster: Cluster) -> None:
    product_id = await a_product(cluster, 3)
    async with websockets.connect(cluster.b.ws, subprotocols=[Subprotocol("graphql-ws")]) as ws:
        await ws.send('{"type": "connection_init", "payload": {}}')
        assert text_message(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            '{"type": "start", "id": "1", "payload": {"query": "subscription { productEvents '
            '{ node { stock } } }"}}'
        )
        await asyncio.sleep(SETTLE_SECONDS)
        await set_stock(cluster, product_id, 61)
        while True:
            message = text_message(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "data":
                break
    assert message["payload"]["data"]["productEvents"]["node"]["stock"] == 61


async def gql_session(url: str, token: str) -> AsyncIterator[Any]:
    transport = WebsocketsTransport(
        url=url,
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        yield session


@pytest.fixture
async def gql_on_b(cluster: Cluster) -> AsyncIterator[Any]:
    async for session in gql_session(cluster.b.ws, cluster.admin):
        yield session


async def test_gql_runs_a_query_over_graphql_transport_ws(gql_on_b: Any) -> None:
    result = await gql_on_b.execute(gql("{ viewer { email } }"))
    assert result == {"viewer": {"email": "admin@example.com"}}


async def test_gql_runs_a_mutation_over_graphql_transport_ws(
    cluster: Cluster, gql_on_b: Any
) -> None:
    product_id = await a_product(cluster, 4)
    version = await fetch_value(
        cluster.url, "SELECT version FROM products WHERE id = :i", i=product_id
    )
    update = {"id": gid("Product", product_id), "expectedVersion": version, "stock": 71}
    result = await gql_on_b.execute(
        GraphQLRequest(UPDATE_PRODUCT, variable_values={"input": update})
    )
    assert result["updateProduct"]["errors"] == []
    assert result["updateProduct"]["product"]["stock"] == 71
    stored = await fetch_value(
        cluster.url, "SELECT stock FROM products WHERE id = :i", i=product_id
    )
    assert stored == 71


async def test_gql_subscription_on_b_receives_a_change_made_on_a(
    cluster: Cluster, gql_on_b: Any
) -> None:
    product_id = await a_product(cluster, 0)
    events = gql_on_b.subscribe(GraphQLRequest(PRODUCT_EVENTS, variable_values=only(product_id)))
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(SETTLE_SECONDS)
    await set_stock(cluster, product_id, 81)
    event = (await asyncio.wait_for(first, 10))["productEvents"]
    await events.aclose()
    assert event["type"] == "UPDATED"
    assert event["node"]["stock"] == 81
