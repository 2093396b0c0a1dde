"""Query.node and Query.nodes."""

from __future__ import annotations

import re
import uuid

import pytest
import strawberry
from graphql import GraphQLInterfaceType, GraphQLSchema
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.graphql.node import node_registry
from app.graphql.relay import Node
from app.graphql.schema import build_schema
from app.settings import Settings
from tests.conftest import Api
from tests.dbtools import fetch_value
from tests.graphql.mutations import CREATE_PRODUCT, PLACE_ORDER
from tests.helpers import gid

NODE = """query($id: ID!) { node(id: $id) { __typename id
    ... on User { email } ... on Product { sku }
    ... on Order { total } ... on OrderItem { quantity } } }"""
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
SCHEMA = build_schema(Settings())._schema


def node_types(schema: GraphQLSchema) -> list[str]:
    interface = schema.get_type("Node")
    assert isinstance(interface, GraphQLInterfaceType)
    return sorted(type_.name for type_ in schema.get_possible_types(interface))


def table_of(type_name: str) -> str:
    """Each Node type's table is its name in snake case, plural: OrderItem, order_items."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", type_name).lower()
    return snake[:-1] + "ies" if snake.endswith("y") else snake + "s"


# The seed makes no webhooks: one endpoint with one delivery, made once (no other test
# of the shared seeded database reads these tables).
ONE_WEBHOOK = """
WITH hook AS (
  INSERT INTO webhooks (owner_id, url, events, secret, cursor)
  SELECT id, 'https://example.com/hook', '{product.updated}', 'whsec_AAAA', 0
  FROM users WHERE role = 'admin' AND NOT EXISTS (SELECT 1 FROM webhooks) LIMIT 1
  RETURNING id
)
INSERT INTO webhook_deliveries (webhook_id, message_id, event_type)
SELECT id, 'msg_node', 'webhook.ping' FROM hook
"""


async def one_of_each(engine: AsyncEngine) -> dict[str, uuid.UUID]:
    """An id of every Node type in the schema."""
    async with engine.begin() as conn:
        await conn.execute(text(ONE_WEBHOOK))
    async with engine.connect() as conn:
        return {
            name: (
                await conn.execute(text(f"SELECT id FROM {table_of(name)} ORDER BY id LIMIT 1"))
            ).scalar_one()
            for name in node_types(SCHEMA)
        }


async def test_node_fetches_every_type(api: Api, engine: AsyncEngine) -> None:
    every = await one_of_each(engine)
    assert set(every) == set(node_types(SCHEMA))
    for type_name, pk in every.items():
        node = (await api.data(NODE, {"id": gid(type_name, pk)}))["node"]
        assert node is not None, type_name
        assert node["__typename"] == type_name
        assert node["id"] == gid(type_name, pk)


@strawberry.type
class Forgotten(Node):
    name: str


@strawberry.type
class ForgottenQuery:
    forgotten: Forgotten | None = None


def test_a_node_type_that_node_cannot_fetch_is_refused() -> None:
    schema = strawberry.Schema(query=ForgottenQuery)
    with pytest.raises(TypeError, match="Forgotten"):
        node_registry(schema._schema)


async def test_node_is_null_for_an_unknown_id(api: Api) -> None:
    assert (await api.data(NODE, {"id": gid("Order", uuid.uuid4())}))["node"] is None


async def test_nodes_keeps_order_and_batches_by_type(api: Api, engine: AsyncEngine) -> None:
    pks = await one_of_each(engine)
    ids = [gid(name, pks[name]) for name in ("User", "Product", "Order", "OrderItem")]
    ids.insert(2, gid("User", uuid.uuid4()))
    nodes = (await api.counted(NODES, {"ids": ids}))["nodes"]
    assert [node["id"] if node else None for node in nodes] == [
        ids[0],
        ids[1],
        None,
        ids[3],
        ids[4],
    ]
    # One per type (the two users together), and the item's order, to check who may see it.
    assert len(api.statements.statements) == 5


async def test_anonymous_nodes_get_the_public_ones_and_null_for_the_rest(
    api: Api, engine: AsyncEngine
) -> None:
    pks = await one_of_each(engine)
    ids = [gid("Product", pks["Product"]), gid("User", pks["User"]), gid("Order", pks["Order"])]
    nodes = (await api.as_(None).data(NODES, {"ids": ids}))["nodes"]
    assert nodes == [{"__typename": "Product", "id": ids[0]}, None, None]


TOKEN_OF = """SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE u.email = :e ORDER BY t.created_at DESC LIMIT 1"""


async def test_an_api_token_is_a_node_for_its_owner_and_admins(api: Api) -> None:
    owner = await api.as_user("user000001@example.com")
    other = await api.as_user("user000002@example.com")
    token = gid("ApiToken", await fetch_value(api.url, TOKEN_OF, e="user000001@example.com"))
    query = "query($id: ID!) { node(id: $id) { __typename id ... on ApiToken { name } } }"
    assert (await owner.data(query, {"id": token}))["node"]["name"] == "test"
    assert (await api.data(query, {"id": token}))["node"]["id"] == token
    assert (await other.data(query, {"id": token}))["node"] is None
    error = await api.as_(None).error(query, {"id": token})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.as_(None).data(NODES, {"ids": [token]}))["nodes"] == [None]


EVENT_OF = "SELECT id FROM audit_events WHERE action = :a ORDER BY occurred_at DESC LIMIT 1"


async def test_an_audit_event_is_a_node_where_history_shows_it(wapi: Api) -> None:
    """Admins see every event; others those of the objects whose history they may read,
    without the private ones."""
    me = await wapi.as_user("user000001@example.com")
    other = await wapi.as_user("user000002@example.com")
    await wapi.data(CREATE_PRODUCT, {"input": {"sku": "N-1", "name": "N", "price": "1"}})
    product = await fetch_value(wapi.url, "SELECT id FROM products WHERE stock > 0 LIMIT 1")
    item = {"productId": gid("Product", product), "quantity": 1}
    await me.data(PLACE_ORDER, {"input": {"items": [item], "idempotencyKey": "n1"}})
    events = {
        action: gid("AuditEvent", await fetch_value(wapi.url, EVENT_OF, a=action))
        for action in ("product.created", "order.placed", "product.stock_changed", "token.created")
    }
    query = "query($id: ID!) { node(id: $id) { ... on AuditEvent { id action } } }"

    async def seen(api: Api) -> set[str]:
        found = set()
        for action, event in events.items():
            node = (await api.data(query, {"id": event}))["node"]
            if node is not None:
                assert node == {"id": event, "action": action}
                found.add(action)
        return found

    assert await seen(wapi) == set(events)
    assert await seen(me) == {"product.created", "order.placed"}
    assert await seen(other) == {"product.created"}
    assert await seen(wapi.as_(None)) == {"product.created"}
