"""The Heavy query: right answers, in a fixed number of statements at any size."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.types import Receive, Scope, Send

from tests.conftest import Api, StatementLog, TaggedRequests
from tests.graphql.operations import HEAVY
from tests.helpers import pk


@pytest.mark.parametrize(("first", "orders"), [(3, 2), (30, 4)])
async def test_heavy_query_sends_five_statements_at_any_size(
    api: Api, first: int, orders: int
) -> None:
    data = await api.counted(HEAVY, {"first": first, "orders": orders})

    edges = data["users"]["edges"]
    assert len(edges) == first
    assert sum(len(edge["node"]["orders"]["edges"]) for edge in edges) >= first
    # users page, totalCount, orders per user, items per order, products
    assert len(api.statements.statements) == 5, api.statements.statements


async def test_total_count_is_not_counted_unless_asked(api: Api) -> None:
    await api.counted("{ users(first: 5) { edges { node { id } } } }")
    assert len(api.statements.statements) == 1
    assert "count(" not in api.statements.statements[0].lower()


async def test_heavy_query_matches_the_database(api: Api, engine: AsyncEngine) -> None:
    data = await api.data(HEAVY, {"first": 10, "orders": 3})
    async with engine.connect() as conn:
        users = (
            await conn.execute(text("SELECT id, email FROM users ORDER BY created_at, id LIMIT 10"))
        ).all()
        total = (await conn.execute(text("SELECT count(*) FROM users"))).scalar_one()
        assert data["users"]["totalCount"] == total
        assert data["users"]["pageInfo"]["hasNextPage"] is (total > 10)
        assert [pk(e["node"]["id"]) for e in data["users"]["edges"]] == [u.id for u in users]
        for edge, user in zip(data["users"]["edges"], users, strict=True):
            assert edge["node"]["email"] == user.email
            expected_orders = (
                await conn.execute(
                    text(
                        "SELECT id, total FROM orders WHERE user_id = :u "
                        "ORDER BY created_at DESC, id DESC LIMIT 3"
                    ),
                    {"u": user.id},
                )
            ).all()
            got = [o["node"] for o in edge["node"]["orders"]["edges"]]
            assert [pk(o["id"]) for o in got] == [o.id for o in expected_orders]
            for order, row in zip(got, expected_orders, strict=True):
                assert Decimal(order["total"]) == row.total
                items = (
                    await conn.execute(
                        text(
                            "SELECT i.quantity, i.unit_price, p.sku FROM order_items i "
                            "JOIN products p ON p.id = i.product_id "
                            "WHERE i.order_id = :o ORDER BY i.line"
                        ),
                        {"o": row.id},
                    )
                ).all()
                assert [
                    (i["quantity"], Decimal(i["unitPrice"]), i["product"]["sku"])
                    for i in order["items"]
                ] == [(i.quantity, i.unit_price, i.sku) for i in items]
                assert (
                    sum(i["quantity"] * Decimal(i["unitPrice"]) for i in order["items"])
                    == row.total
                )


async def test_children_are_loaded_only_when_asked(api: Api) -> None:
    query = "{ users(first: 10) { edges { node { orders(first: 3) { edges { node { id } } } } } } }"
    await api.counted(query)
    assert len(api.statements.statements) == 2  # users page, orders per user


async def test_fragments_are_looked_through(api: Api) -> None:
    query = """
    query { users(first: 10) { edges { node { ...U } } } }
    fragment U on User { orders(first: 3) { edges { node { ... on Order { itemCount items {
        quantity product { sku } } } } } } }
    """
    data = await api.counted(query)
    orders = [o["node"] for e in data["users"]["edges"] for o in e["node"]["orders"]["edges"]]
    assert orders
    assert all(o["itemCount"] == sum(i["quantity"] for i in o["items"]) for o in orders)
    assert all(item["product"]["sku"] for o in orders for item in o["items"])
    assert len(api.statements.statements) == 4  # users, orders, items, products


async def test_statement_counts_leave_out_background_work(seeded_url: str) -> None:
    """A poller started before any request (as the relay and broker are, in the lifespan)
    shares the engine, yet only the requests' own statements are counted, including
    those of tasks a request starts (as loader batches are)."""
    engine = create_async_engine(seeded_url)
    log = StatementLog()
    event.listen(engine.sync_engine, "before_cursor_execute", log)
    polls = 0
    stop, polled = asyncio.Event(), asyncio.Event()

    async def poll() -> None:
        nonlocal polls
        while not stop.is_set():
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            polls += 1
            if polls >= 6:
                polled.set()
            await asyncio.sleep(0)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def read() -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 2"))

        await asyncio.create_task(read())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    poller = asyncio.create_task(poll())
    try:
        transport = httpx.ASGITransport(app=TaggedRequests(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for _ in range(3):
                await client.get("/")
        await asyncio.wait_for(polled.wait(), 10)
    finally:
        stop.set()
        await poller
        await engine.dispose()
    assert log.statements == ["SELECT 2"] * 3
