"""Sales aggregates: per product, per user, and the best sellers.

Cancelled orders do not count. `since` bounds orders by their creation time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.orders import order_items, orders
from app.queries.filters import one_of


@dataclass(frozen=True, slots=True)
class SalesStats:
    units_sold: int
    revenue: Decimal
    order_count: int


NO_SALES = SalesStats(0, Decimal("0.00"), 0)


@dataclass(frozen=True, slots=True)
class OrderStats:
    count: int
    total_spent: Decimal
    last_order_at: datetime | None


def _counted(since: datetime | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [orders.c.status != "cancelled"]
    if since is not None:
        conditions.append(orders.c.created_at >= since)
    return conditions


async def sales_by_product_id(
    conn: AsyncConnection, product_ids: Sequence[uuid.UUID], *, since: datetime | None
) -> list[SalesStats]:
    stmt = (
        select(
            order_items.c.product_id,
            func.sum(order_items.c.quantity),
            func.sum(order_items.c.quantity * order_items.c.unit_price),
            func.count(func.distinct(order_items.c.order_id)),
        )
        .join(orders, orders.c.id == order_items.c.order_id)
        .where(one_of(order_items.c.product_id, product_ids), *_counted(since))
        .group_by(order_items.c.product_id)
    )
    found = {
        row[0]: SalesStats(int(row[1]), Decimal(row[2]), int(row[3]))
        for row in await conn.execute(stmt)
    }
    return [found.get(product_id, NO_SALES) for product_id in product_ids]


async def order_stats_by_user_id(
    conn: AsyncConnection, user_ids: Sequence[uuid.UUID]
) -> list[OrderStats]:
    stmt = (
        select(
            orders.c.user_id,
            func.count(),
            func.coalesce(func.sum(orders.c.total), 0),
            func.max(orders.c.created_at),
        )
        .where(one_of(orders.c.user_id, user_ids), *_counted(None))
        .group_by(orders.c.user_id)
    )
    found = {
        row[0]: OrderStats(int(row[1]), Decimal(row[2]), row[3]) for row in await conn.execute(stmt)
    }
    return [found.get(user_id, OrderStats(0, Decimal("0.00"), None)) for user_id in user_ids]


async def top_products(
    conn: AsyncConnection, *, limit: int, since: datetime | None
) -> list[tuple[uuid.UUID, SalesStats]]:
    """The best sellers by units sold, ties broken by revenue, then product id."""
    units = func.sum(order_items.c.quantity)
    revenue = func.sum(order_items.c.quantity * order_items.c.unit_price)
    stmt = (
        select(
            order_items.c.product_id,
            units,
            revenue,
            func.count(func.distinct(order_items.c.order_id)),
        )
        .join(orders, orders.c.id == order_items.c.order_id)
        .where(*_counted(since))
        .group_by(order_items.c.product_id)
        .order_by(units.desc(), revenue.desc(), order_items.c.product_id)
        .limit(limit)
    )
    return [
        (row[0], SalesStats(int(row[1]), Decimal(row[2]), int(row[3])))
        for row in await conn.execute(stmt)
    ]


def encode_sales(value: SalesStats) -> bytes:
    return orjson.dumps([value.units_sold, str(value.revenue), value.order_count])


def decode_sales(raw: bytes) -> SalesStats:
    units, revenue, orders = orjson.loads(raw)
    return SalesStats(int(units), Decimal(revenue), int(orders))


def encode_order_stats(value: OrderStats) -> bytes:
    last = value.last_order_at.isoformat() if value.last_order_at else None
    return orjson.dumps([value.count, str(value.total_spent), last])


def decode_order_stats(raw: bytes) -> OrderStats:
    count, spent, last = orjson.loads(raw)
    return OrderStats(int(count), Decimal(spent), datetime.fromisoformat(last) if last else None)
