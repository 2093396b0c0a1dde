"""The orders connections: root filters and ordering, and User.orders per parent."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.graphql.operations import ORDERS, USER_ORDERS
from tests.helpers import gid, pk, walk


async def expected(engine: AsyncEngine, where: str, order: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT id FROM orders WHERE {where} ORDER BY {order}"), params
        )
        return [row.id for row in rows]


async def some_user(engine: AsyncEngine, offset: int = 3) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT id FROM users ORDER BY email OFFSET :o LIMIT 1"), {"o": offset}
            )
        ).scalar_one()


@pytest.mark.parametrize(
    ("order_by", "sql"),
    [
        (None, "created_at DESC, id DESC"),
        ({"field": "CREATED_AT", "direction": "ASC"}, "created_at, id"),
        ({"field": "TOTAL", "direction": "DESC"}, "total DESC, id DESC"),
    ],
)
@pytest.mark.parametrize("backward", [False, True])
async def test_orders_walk_every_ordering_in_both_directions(
    api: Api, engine: AsyncEngine, order_by: dict[str, str] | None, sql: str, backward: bool
) -> None:
    nodes = await walk(
        api, ORDERS, {"orderBy": order_by}, path=("orders",), size=25, backward=backward
    )
    assert [pk(node["id"]) for node in nodes] == await expected(engine, "true", sql)


@pytest.mark.parametrize(
    ("filter", "where"),
    [
        ({"status": ["PAID", "SHIPPED"]}, "status IN ('paid', 'shipped')"),
        ({"status": []}, "false"),
        ({"total": {"min": "1000", "max": "3000"}}, "total BETWEEN 1000 AND 3000"),
        (
            {"createdAt": {"from": "2026-03-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}},
            "created_at >= '2026-03-01Z' AND created_at < '2026-06-01Z'",
        ),
        (
            {"status": ["CANCELLED"], "total": {"max": "2000"}},
            "status = 'cancelled' AND total <= 2000",
        ),
    ],
)
async def test_orders_filter(
    api: Api, engine: AsyncEngine, filter: dict[str, Any], where: str
) -> None:
    want = await expected(engine, where, "created_at DESC, id DESC")
    data = await api.data(ORDERS, {"filter": filter, "first": 100})
    assert [pk(edge["node"]["id"]) for edge in data["orders"]["edges"]] == want[:100]
    assert data["orders"]["totalCount"] == len(want)


async def test_orders_filter_by_user(api: Api, engine: AsyncEngine) -> None:
    user_id = await some_user(engine)
    want = await expected(engine, "user_id = :u", "created_at DESC, id DESC", u=user_id)
    data = await api.data(ORDERS, {"filter": {"userId": gid("User", user_id)}})
    assert [pk(edge["node"]["id"]) for edge in data["orders"]["edges"]] == want
    assert {pk(edge["node"]["user"]["id"]) for edge in data["orders"]["edges"]} == {user_id}


@pytest.mark.parametrize("backward", [False, True])
async def test_user_orders_page_through_one_users_orders(
    api: Api, engine: AsyncEngine, backward: bool
) -> None:
    user_id = await some_user(engine)
    nodes = await walk(
        api,
        USER_ORDERS,
        {"id": gid("User", user_id)},
        path=("user", "orders"),
        size=1,
        backward=backward,
    )
    assert [pk(n["id"]) for n in nodes] == await expected(
        engine, "user_id = :u", "created_at DESC, id DESC", u=user_id
    )


async def test_user_orders_filter_order_and_count(api: Api, engine: AsyncEngine) -> None:
    user_id = await some_user(engine, offset=5)
    data = await api.data(
        USER_ORDERS,
        {
            "id": gid("User", user_id),
            "filter": {"status": ["PENDING", "PAID", "SHIPPED", "DELIVERED"]},
            "orderBy": {"field": "TOTAL", "direction": "ASC"},
        },
    )
    want = await expected(engine, "user_id = :u AND status <> 'cancelled'", "total, id", u=user_id)
    assert [pk(edge["node"]["id"]) for edge in data["user"]["orders"]["edges"]] == want
    assert data["user"]["orders"]["totalCount"] == len(want)


async def test_nested_total_count_is_one_statement_for_all_users(api: Api) -> None:
    query = "{ users(first: 20) { edges { node { orders(first: 1) { totalCount } } } } }"
    data = await api.counted(query)
    counts = [edge["node"]["orders"]["totalCount"] for edge in data["users"]["edges"]]
    assert counts == [4] * 20  # the standard data set: 4 orders per user, admin too
    assert len(api.statements.statements) == 3


async def test_order_fields_user_items_and_item_count(api: Api, engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        order = (await conn.execute(text("SELECT * FROM orders ORDER BY id LIMIT 1"))).one()
        units = (
            await conn.execute(
                text("SELECT sum(quantity) FROM order_items WHERE order_id = :o"), {"o": order.id}
            )
        ).scalar_one()
    query = """query($id: ID!) { order(id: $id) {
        status total itemCount user { id } items { id quantity product { id } } } }"""
    data = (await api.data(query, {"id": gid("Order", order.id)}))["order"]
    assert data["status"] == order.status.upper()
    assert data["itemCount"] == units
    assert pk(data["user"]["id"]) == order.user_id
    assert len(data["items"]) == 3
