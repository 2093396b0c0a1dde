"""Keyset pagination: page sizes, cursors that survive inserts, and both directions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db.seed import ADMIN_EMAIL, SeedSpec, seed
from tests.conftest import Api
from tests.graphql.operations import USERS
from tests.helpers import pk


async def test_page_size_defaults_to_20(api: Api) -> None:
    data = await api.data(USERS)
    assert len(data["users"]["edges"]) == 20
    assert data["users"]["pageInfo"]["hasNextPage"] is True
    assert data["users"]["pageInfo"]["hasPreviousPage"] is False


async def test_first_zero_returns_no_edges_but_knows_more_exist(api: Api) -> None:
    data = await api.data(USERS, {"first": 0})
    assert data["users"]["edges"] == []
    assert data["users"]["pageInfo"]["hasNextPage"] is True
    assert data["users"]["pageInfo"]["startCursor"] is None


async def test_first_100_is_accepted(api: Api) -> None:
    data = await api.data(USERS, {"first": 100})
    assert len(data["users"]["edges"]) == data["users"]["totalCount"] == 31


async def test_last_without_cursor_returns_the_final_page(api: Api) -> None:
    everything = await api.data(USERS, {"first": 100})
    tail = await api.data(USERS, {"last": 3})
    assert [e["node"]["id"] for e in tail["users"]["edges"]] == [
        e["node"]["id"] for e in everything["users"]["edges"][-3:]
    ]
    assert tail["users"]["pageInfo"]["hasPreviousPage"] is True
    assert tail["users"]["pageInfo"]["hasNextPage"] is False


async def test_after_and_before_together_bound_a_slice(api: Api) -> None:
    edges = (await api.data(USERS, {"first": 10}))["users"]["edges"]
    data = await api.data(USERS, {"after": edges[2]["cursor"], "before": edges[7]["cursor"]})
    assert [e["node"]["id"] for e in data["users"]["edges"]] == [
        e["node"]["id"] for e in edges[3:7]
    ]
    # Rows lie beyond both cursors: the ones they point at.
    assert data["users"]["pageInfo"]["hasNextPage"] is True
    assert data["users"]["pageInfo"]["hasPreviousPage"] is True


async def test_nested_pages_go_backward_for_every_parent_at_once(
    api: Api, engine: AsyncEngine
) -> None:
    query = """{ users(first: 6) { edges { node { id
        orders(last: 2, orderBy: {field: TOTAL, direction: ASC}) {
          pageInfo { hasPreviousPage hasNextPage } edges { node { id } } } } } } }"""
    data = await api.data(query)
    async with engine.connect() as conn:
        for edge in data["users"]["edges"]:
            user_id = pk(edge["node"]["id"])
            truth = [
                row.id
                for row in await conn.execute(
                    text("SELECT id FROM orders WHERE user_id = :u ORDER BY total, id"),
                    {"u": user_id},
                )
            ]
            orders = edge["node"]["orders"]
            assert [pk(o["node"]["id"]) for o in orders["edges"]] == truth[-2:]
            assert orders["pageInfo"]["hasPreviousPage"] is (len(truth) > 2)
            assert orders["pageInfo"]["hasNextPage"] is False


async def test_cursor_pages_stay_stable_while_rows_are_inserted(
    empty_api: Api, empty_url: str
) -> None:
    engine = create_async_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SeedSpec(users=12, orders_per_user=0, items_per_order=0, products=1))
        admin = await empty_api.as_user(ADMIN_EMAIL)
        first = (await admin.data(USERS, {"first": 5}))["users"]
        # New users sort before the whole first page, and between the pages.
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (email, name, created_at) VALUES "
                    "('early@example.com', 'Early', :early), ('between@example.com', 'Mid', :mid)"
                ),
                {
                    "early": datetime(2025, 1, 1, tzinfo=UTC),
                    "mid": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=4, seconds=30),
                },
            )
        second = (await admin.data(USERS, {"first": 5, "after": first["pageInfo"]["endCursor"]}))[
            "users"
        ]
        async with engine.connect() as conn:
            truth = [
                row.id
                for row in await conn.execute(
                    text(
                        "SELECT id FROM users WHERE created_at > :t ORDER BY created_at, id LIMIT 5"
                    ),
                    {"t": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=4)},
                )
            ]
    finally:
        await engine.dispose()
    # The second page continues right after the last row seen, whatever was inserted.
    assert [pk(e["node"]["id"]) for e in second["edges"]] == truth
    assert "Mid" in [e["node"]["name"] for e in second["edges"]]
    assert not {e["node"]["id"] for e in first["edges"]} & {
        e["node"]["id"] for e in second["edges"]
    }
