"""Query.node and Query.nodes."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.helpers import gid

NODE = """query($id: ID!) { node(id: $id) { __typename id
    ... on User { email } ... on Product { sku }
    ... on Order { total } ... on OrderItem { quantity } } }"""
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


async def one_of_each(engine: AsyncEngine) -> dict[str, uuid.UUID]:
    async with engine.connect() as conn:
        return {
            name: (
                await conn.execute(text(f"SELECT id FROM {table} ORDER BY id LIMIT 1"))
            ).scalar_one()
            for name, table in (
                ("User", "users"),
                ("Product", "products"),
                ("Order", "orders"),
                ("OrderItem", "order_items"),
            )
        }


async def test_node_fetches_every_type(api: Api, engine: AsyncEngine) -> None:
    for type_name, pk in (await one_of_each(engine)).items():
        node = (await api.data(NODE, {"id": gid(type_name, pk)}))["node"]
        assert node["__typename"] == type_name
        assert node["id"] == gid(type_name, pk)


async def test_node_is_null_for_an_unknown_id(api: Api) -> None:
    assert (await api.data(NODE, {"id": gid("Order", uuid.uuid4())}))["node"] is None


async def test_nodes_keeps_order_and_batches_by_type(api: Api, engine: AsyncEngine) -> None:
    pks = await one_of_each(engine)
    ids = [gid(name, pk) for name, pk in pks.items()]
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
