"""Who may read what: anonymous callers see the catalog, users see their own rows,
admins see everything; in connections, filters, counts, node(id) and nodes(ids) alike."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.helpers import gid, node_pks, pk

ME = "user000005@example.com"
OTHER = "user000006@example.com"

USERS = """
query($filter: UserFilter) {
  users(first: 100, filter: $filter) { totalCount edges { node { id email } } }
}
"""
ORDERS = """
query($filter: OrderFilter) {
  orders(first: 100, filter: $filter) { totalCount edges { node { id user { id } } } }
}
"""
USER = "query($id: ID!) { user(id: $id) { id email } }"
ORDER = "query($id: ID!) { order(id: $id) { id user { id } } }"
NODE = """
query($id: ID!) {
  node(id: $id) {
    id
    ... on User { email }
    ... on Order { user { id } }
    ... on OrderItem { quantity }
    ... on Product { sku }
  }
}
"""
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
AUDIT = "{ auditEvents(first: 5) { totalCount edges { node { id } } } }"


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(text(sql), params)


async def column(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.scalars(text(sql), params)).all())


async def user_pk(engine: AsyncEngine, email: str) -> uuid.UUID:
    found: uuid.UUID = await scalar(engine, "SELECT id FROM users WHERE email = :e", e=email)
    return found


async def order_pks(engine: AsyncEngine, user: uuid.UUID) -> list[uuid.UUID]:
    return await column(engine, "SELECT id FROM orders WHERE user_id = :u ORDER BY id", u=user)


async def an_item_of(engine: AsyncEngine, order: uuid.UUID) -> uuid.UUID:
    found: uuid.UUID = await scalar(
        engine, "SELECT id FROM order_items WHERE order_id = :o ORDER BY id LIMIT 1", o=order
    )
    return found


@pytest.fixture
async def me(engine: AsyncEngine) -> uuid.UUID:
    return await user_pk(engine, ME)


@pytest.fixture
async def other(engine: AsyncEngine) -> uuid.UUID:
    return await user_pk(engine, OTHER)


@pytest.fixture
async def member(api: Api) -> Api:
    """The app as the regular user ME."""
    return await api.as_user(ME)


# -- anonymous ----------------------------------------------------------------------------


async def test_anonymous_reads_the_catalog(api: Api, engine: AsyncEngine) -> None:
    data = await api.as_(None).data("{ products(first: 100) { totalCount edges { node { id } } } }")
    want = await column(engine, "SELECT id FROM products")
    assert data["products"]["totalCount"] == len(want)
    assert sorted(node_pks(data["products"])) == sorted(want)


async def test_anonymous_reads_a_product_by_id_and_node(api: Api, engine: AsyncEngine) -> None:
    product = await scalar(engine, "SELECT id FROM products ORDER BY id LIMIT 1")
    anonymous = api.as_(None)
    query = "query($id: ID!) { product(id: $id) { id } }"
    assert (await anonymous.data(query, {"id": gid("Product", product)}))["product"] == {
        "id": gid("Product", product)
    }
    node = (await anonymous.data(NODE, {"id": gid("Product", product)}))["node"]
    assert node["id"] == gid("Product", product)


@pytest.mark.parametrize(
    ("document", "table", "type_name"),
    [
        pytest.param("{ users { totalCount } }", None, None, id="users"),
        pytest.param("{ orders { totalCount } }", None, None, id="orders"),
        pytest.param(USER, "users", "User", id="user"),
        pytest.param(ORDER, "orders", "Order", id="order"),
        pytest.param(AUDIT, None, None, id="auditEvents"),
    ],
)
async def test_anonymous_is_told_to_sign_in_for_anything_but_the_catalog(
    api: Api, engine: AsyncEngine, document: str, table: str | None, type_name: str | None
) -> None:
    variables = None
    if table and type_name:
        row = await scalar(engine, f"SELECT id FROM {table} ORDER BY id LIMIT 1")
        variables = {"id": gid(type_name, row)}
    # No bad credentials, so the request runs (200) and the field is a GraphQL error.
    error = await api.as_(None).error(document, variables)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"]


@pytest.mark.parametrize("type_name", ["User", "Order", "OrderItem"])
async def test_anonymous_gets_nothing_private_through_node(
    api: Api, engine: AsyncEngine, me: uuid.UUID, type_name: str
) -> None:
    order = (await order_pks(engine, me))[0]
    target = {"User": me, "Order": order, "OrderItem": await an_item_of(engine, order)}
    body = await api.as_(None).query(NODE, {"id": gid(type_name, target[type_name])})
    assert body["data"] == {"node": None}
    assert {error["extensions"]["code"] for error in body.get("errors", [])} <= {"UNAUTHENTICATED"}


async def test_anonymous_gets_nothing_private_through_nodes(
    api: Api, engine: AsyncEngine, me: uuid.UUID
) -> None:
    order = (await order_pks(engine, me))[0]
    ids = [gid("User", me), gid("Order", order), gid("OrderItem", await an_item_of(engine, order))]
    body = await api.as_(None).query(NODES, {"ids": ids})
    assert body == {"data": {"nodes": [None, None, None]}}


# -- a regular user -----------------------------------------------------------------------


async def test_user_sees_only_themself_in_users(member: Api, me: uuid.UUID) -> None:
    data = await member.data(USERS)
    assert node_pks(data["users"]) == [me]
    assert data["users"]["totalCount"] == 1
    assert data["users"]["edges"][0]["node"]["email"] == ME


@pytest.mark.parametrize(
    "filter",
    [{"role": "ADMIN"}, {"email": "admin"}, {"email": OTHER}],
)
async def test_user_filter_cannot_reach_other_users(member: Api, filter: dict[str, Any]) -> None:
    data = await member.data(USERS, {"filter": filter})
    assert data["users"] == {"totalCount": 0, "edges": []}


async def test_user_sees_only_their_own_orders(
    member: Api, engine: AsyncEngine, me: uuid.UUID
) -> None:
    want = await order_pks(engine, me)
    assert want
    data = await member.data(ORDERS)
    assert sorted(node_pks(data["orders"])) == want
    assert data["orders"]["totalCount"] == len(want)
    assert {edge["node"]["user"]["id"] for edge in data["orders"]["edges"]} == {gid("User", me)}


async def test_user_filtering_orders_by_another_user_gets_nothing(
    member: Api, other: uuid.UUID
) -> None:
    data = await member.data(ORDERS, {"filter": {"userId": gid("User", other)}})
    assert data["orders"] == {"totalCount": 0, "edges": []}


async def test_user_filtering_orders_by_themself_gets_their_orders(
    member: Api, engine: AsyncEngine, me: uuid.UUID
) -> None:
    data = await member.data(ORDERS, {"filter": {"userId": gid("User", me)}})
    assert sorted(node_pks(data["orders"])) == await order_pks(engine, me)


async def test_user_counts_only_their_own_orders_by_status(
    member: Api, engine: AsyncEngine, me: uuid.UUID
) -> None:
    statuses = ["PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"]
    for status in statuses:
        data = await member.data(ORDERS, {"filter": {"status": [status]}})
        want = await scalar(
            engine,
            "SELECT count(*) FROM orders WHERE user_id = :u AND status = :s",
            u=me,
            s=status.lower(),
        )
        assert data["orders"]["totalCount"] == want, status


async def test_viewer_orders_connection_counts_their_orders(
    member: Api, engine: AsyncEngine, me: uuid.UUID
) -> None:
    data = await member.data("{ viewer { orders { totalCount } } }")
    assert data["viewer"]["orders"]["totalCount"] == len(await order_pks(engine, me))


async def test_user_reads_themself_by_id(member: Api, me: uuid.UUID) -> None:
    data = await member.data(USER, {"id": gid("User", me)})
    assert data["user"] == {"id": gid("User", me), "email": ME}


async def test_another_user_by_id_is_null_like_a_missing_one(member: Api, other: uuid.UUID) -> None:
    existing = await member.query(USER, {"id": gid("User", other)})
    missing = await member.query(USER, {"id": gid("User", uuid.uuid4())})
    assert existing == missing == {"data": {"user": None}}


async def test_another_users_order_by_id_is_null_like_a_missing_one(
    member: Api, engine: AsyncEngine, other: uuid.UUID
) -> None:
    order = (await order_pks(engine, other))[0]
    existing = await member.query(ORDER, {"id": gid("Order", order)})
    missing = await member.query(ORDER, {"id": gid("Order", uuid.uuid4())})
    assert existing == missing == {"data": {"order": None}}


async def test_user_reads_their_own_order_by_id(
    member: Api, engine: AsyncEngine, me: uuid.UUID
) -> None:
    order = (await order_pks(engine, me))[0]
    data = await member.data(ORDER, {"id": gid("Order", order)})
    assert data["order"] == {"id": gid("Order", order), "user": {"id": gid("User", me)}}


@pytest.mark.parametrize("type_name", ["User", "Order", "OrderItem"])
async def test_another_users_objects_through_node_are_null_like_missing_ones(
    member: Api, engine: AsyncEngine, other: uuid.UUID, type_name: str
) -> None:
    order = (await order_pks(engine, other))[0]
    target = {"User": other, "Order": order, "OrderItem": await an_item_of(engine, order)}
    existing = await member.query(NODE, {"id": gid(type_name, target[type_name])})
    missing = await member.query(NODE, {"id": gid(type_name, uuid.uuid4())})
    assert existing == missing == {"data": {"node": None}}


@pytest.mark.parametrize("type_name", ["User", "Order", "OrderItem"])
async def test_user_reads_their_own_objects_through_node(
    member: Api, engine: AsyncEngine, me: uuid.UUID, type_name: str
) -> None:
    order = (await order_pks(engine, me))[0]
    target = {"User": me, "Order": order, "OrderItem": await an_item_of(engine, order)}
    node = (await member.data(NODE, {"id": gid(type_name, target[type_name])}))["node"]
    assert node is not None
    assert node["id"] == gid(type_name, target[type_name])


async def test_nodes_returns_own_objects_and_null_for_others(
    member: Api, engine: AsyncEngine, me: uuid.UUID, other: uuid.UUID
) -> None:
    mine = (await order_pks(engine, me))[0]
    theirs = (await order_pks(engine, other))[0]
    ids = [
        gid("Order", mine),
        gid("Order", theirs),
        gid("User", other),
        gid("OrderItem", await an_item_of(engine, theirs)),
        gid("OrderItem", await an_item_of(engine, mine)),
        gid("User", me),
    ]
    data = await member.data(NODES, {"ids": ids})
    assert data["nodes"] == [
        {"id": ids[0]},
        None,
        None,
        None,
        {"id": ids[4]},
        {"id": ids[5]},
    ]


async def test_audit_events_are_forbidden_to_a_user(member: Api) -> None:
    error = await member.error(AUDIT)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"]


# -- an admin -----------------------------------------------------------------------------


async def test_admin_sees_every_user(api: Api, engine: AsyncEngine) -> None:
    data = await api.data(USERS)
    want = await column(engine, "SELECT id FROM users")
    assert len(want) <= 100
    assert data["users"]["totalCount"] == len(want)
    assert sorted(node_pks(data["users"])) == sorted(want)


async def test_admin_counts_every_order(api: Api, engine: AsyncEngine) -> None:
    data = await api.data("{ orders { totalCount } }")
    assert data["orders"]["totalCount"] == await scalar(engine, "SELECT count(*) FROM orders")


async def test_admin_filters_orders_by_any_user(
    api: Api, engine: AsyncEngine, other: uuid.UUID
) -> None:
    data = await api.data(ORDERS, {"filter": {"userId": gid("User", other)}})
    want = await order_pks(engine, other)
    assert sorted(node_pks(data["orders"])) == want
    assert data["orders"]["totalCount"] == len(want)


async def test_admin_reads_any_user_and_order_by_id(
    api: Api, engine: AsyncEngine, other: uuid.UUID
) -> None:
    order = (await order_pks(engine, other))[0]
    assert (await api.data(USER, {"id": gid("User", other)}))["user"] == {
        "id": gid("User", other),
        "email": OTHER,
    }
    assert (await api.data(ORDER, {"id": gid("Order", order)}))["order"] == {
        "id": gid("Order", order),
        "user": {"id": gid("User", other)},
    }


async def test_admin_reads_anyones_objects_through_nodes(
    api: Api, engine: AsyncEngine, other: uuid.UUID
) -> None:
    order = (await order_pks(engine, other))[0]
    ids = [
        gid("User", other),
        gid("Order", order),
        gid("OrderItem", await an_item_of(engine, order)),
    ]
    data = await api.data(NODES, {"ids": ids})
    assert data["nodes"] == [{"id": value} for value in ids]


async def test_admin_reads_the_audit_trail(api: Api, engine: AsyncEngine) -> None:
    data = await api.data(AUDIT)
    assert data["auditEvents"]["totalCount"] == await scalar(
        engine, "SELECT count(*) FROM audit_events"
    )
    assert data["auditEvents"]["totalCount"] > 0


async def test_items_of_the_orders_a_user_is_shown_are_all_theirs(
    member: Api, engine: AsyncEngine, me: uuid.UUID
) -> None:
    data = await member.data("{ orders(first: 100) { edges { node { items { id } } } } }")
    items = [pk(item["id"]) for edge in data["orders"]["edges"] for item in edge["node"]["items"]]
    want = await column(
        engine,
        "SELECT i.id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.user_id = :u",
        u=me,
    )
    assert sorted(items) == sorted(want)
