"""Sales aggregates: Product.salesStats, User.orderStats, Query.topProducts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.helpers import pk

SALES = """query($first: Int, $since: DateTime) { products(first: $first) { edges { node {
  id salesStats(since: $since) { unitsSold revenue orderCount } } } } }"""
SALES_SQL = """
SELECT i.product_id, sum(i.quantity) AS units, sum(i.quantity * i.unit_price) AS revenue,
       count(DISTINCT i.order_id) AS orders
FROM order_items i JOIN orders o ON o.id = i.order_id
WHERE o.status <> 'cancelled' AND (CAST(:since AS timestamptz) IS NULL OR o.created_at >= :since)
GROUP BY i.product_id
"""


async def truth(engine: AsyncEngine, since: str | None) -> dict[object, tuple[int, Decimal, int]]:
    async with engine.connect() as conn:
        start = datetime.fromisoformat(since) if since else None
        rows = await conn.execute(text(SALES_SQL), {"since": start})
        return {row.product_id: (int(row.units), row.revenue, int(row.orders)) for row in rows}


@pytest.mark.parametrize("since", [None, "2026-07-01T00:00:00+00:00"])
async def test_sales_stats_match_the_orders(
    api: Api, engine: AsyncEngine, since: str | None
) -> None:
    expected = await truth(engine, since)
    data = await api.counted(SALES, {"first": 40, "since": since})
    for edge in data["products"]["edges"]:
        stats = edge["node"]["salesStats"]
        units, revenue, orders = expected.get(pk(edge["node"]["id"]), (0, Decimal(0), 0))
        assert (stats["unitsSold"], Decimal(stats["revenue"]), stats["orderCount"]) == (
            units,
            revenue,
            orders,
        )
    # products page + one statement for the stats of the whole page
    assert len(api.statements.statements) == 2


async def test_top_products_rank_by_units_then_revenue(api: Api, engine: AsyncEngine) -> None:
    expected = await truth(engine, None)
    ranked = sorted(expected.items(), key=lambda item: (-item[1][0], -item[1][1], str(item[0])))
    query = "{ topProducts(limit: 5) { product { id } sales { unitsSold } } }"
    data = await api.as_(None).data(query)
    assert [pk(t["product"]["id"]) for t in data["topProducts"]] == [p for p, _ in ranked[:5]]
    assert [t["sales"]["unitsSold"] for t in data["topProducts"]] == [s[0] for _, s in ranked[:5]]


@pytest.mark.parametrize("limit", [0, 101])
async def test_top_products_limit_is_checked(api: Api, limit: int) -> None:
    query = "query($l: Int!) { topProducts(limit: $l) { sales { unitsSold } } }"
    error = await api.error(query, {"l": limit})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "limit"}


async def test_order_stats_are_the_users_own(api: Api, engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT u.id, count(o.id) AS n, coalesce(sum(o.total), 0) AS spent, "
                    "max(o.created_at) AS last FROM users u LEFT JOIN orders o "
                    "ON o.user_id = u.id AND o.status <> 'cancelled' "
                    "WHERE u.email = 'user000003@example.com' GROUP BY u.id"
                )
            )
        ).one()
    me = await api.as_user("user000003@example.com")
    stats = (await me.data("{ viewer { orderStats { count totalSpent lastOrderAt } } }"))["viewer"][
        "orderStats"
    ]
    assert stats["count"] == row.n
    assert Decimal(stats["totalSpent"]) == row.spent
    assert (stats["lastOrderAt"] is None) == (row.last is None)
