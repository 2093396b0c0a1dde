"""Reading orders and order items, including one user's page of orders per parent."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.orders import order_items, orders
from app.queries.filters import (
    KEYS,
    MoneyRange,
    TimeRange,
    any_key,
    money_range,
    one_of,
    time_range,
)
from app.queries.keyset import Page, SortKey, Window, apply_window, to_page
from app.queries.lateral import PagesByParent


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    total: Decimal
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class OrderItemRecord:
    id: uuid.UUID
    order_id: uuid.UUID
    product_id: uuid.UUID
    quantity: int
    unit_price: Decimal


COLUMNS = [getattr(orders.c, name) for name in OrderRecord.__dataclass_fields__]
ITEM_COLUMNS = [getattr(order_items.c, name) for name in OrderItemRecord.__dataclass_fields__]
_BY_ID = select(*COLUMNS).where(any_key(orders.c.id))
_ITEMS_BY_ID = select(*ITEM_COLUMNS).where(any_key(order_items.c.id))
_ITEMS_BY_ORDER_ID = (
    select(*ITEM_COLUMNS)
    .where(any_key(order_items.c.order_id))
    .order_by(order_items.c.order_id, order_items.c.line)
)


@dataclass(frozen=True, slots=True)
class OrderWhere:
    statuses: tuple[str, ...] | None = None
    user_id: uuid.UUID | None = None
    created_at: TimeRange | None = None
    total: MoneyRange | None = None
    # Authorization, not a client filter: only this user's orders (None: everyone's).
    visible_to: uuid.UUID | None = None


SORT_KEYS = {
    key.name: key
    for key in (
        SortKey("CREATED_AT", "created_at", datetime),
        SortKey("TOTAL", "total", Decimal),
    )
}


def conditions(where: OrderWhere | None) -> list[ColumnElement[bool]]:
    if where is None:
        return []
    result: list[ColumnElement[bool]] = []
    if where.statuses is not None:
        result.append(one_of(orders.c.status, where.statuses))
    if where.user_id is not None:
        result.append(orders.c.user_id == where.user_id)
    result += time_range(orders.c.created_at, where.created_at, field="filter.createdAt")
    result += money_range(orders.c.total, where.total, field="filter.total")
    if where.visible_to is not None:
        result.append(orders.c.user_id == where.visible_to)
    return result


async def orders_by_id(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[OrderRecord | None]:
    rows = await conn.execute(_BY_ID, {KEYS: list(ids)})
    found = {row[0]: OrderRecord(*row) for row in rows}
    return [found.get(order_id) for order_id in ids]


async def orders_page(
    conn: AsyncConnection, *, where: OrderWhere | None, window: Window
) -> Page[OrderRecord]:
    stmt = apply_window(select(*COLUMNS).where(*conditions(where)), orders, window)
    rows = await conn.execute(stmt)
    return to_page([OrderRecord(*row) for row in rows], window)


async def count_orders(conn: AsyncConnection, *, where: OrderWhere | None) -> int:
    stmt = select(func.count()).select_from(orders).where(*conditions(where))
    return int((await conn.execute(stmt)).scalar_one())


# The orders of many users on one level: one LATERAL statement for every user's page.
_BY_USER: PagesByParent[OrderWhere, OrderRecord] = PagesByParent(
    table=orders,
    columns=COLUMNS,
    parent=orders.c.user_id,
    conditions=conditions,
    build=lambda row: OrderRecord(*row),
)


async def orders_pages_by_user_id(
    conn: AsyncConnection,
    user_ids: Sequence[uuid.UUID],
    *,
    where: OrderWhere | None,
    window: Window,
) -> list[Page[OrderRecord]]:
    """One page of orders for each user, in one statement."""
    return await _BY_USER.pages(conn, user_ids, where=where, window=window)


async def count_orders_by_user_id(
    conn: AsyncConnection, user_ids: Sequence[uuid.UUID], *, where: OrderWhere | None
) -> list[int]:
    return await _BY_USER.counts(conn, user_ids, where=where)


async def items_by_order_id(
    conn: AsyncConnection, order_ids: Sequence[uuid.UUID]
) -> list[list[OrderItemRecord]]:
    grouped: dict[uuid.UUID, list[OrderItemRecord]] = {order_id: [] for order_id in order_ids}
    for row in await conn.execute(_ITEMS_BY_ORDER_ID, {KEYS: list(order_ids)}):
        grouped[row[1]].append(OrderItemRecord(*row))
    return [grouped[order_id] for order_id in order_ids]


async def items_by_id(
    conn: AsyncConnection, ids: Sequence[uuid.UUID]
) -> list[OrderItemRecord | None]:
    rows = await conn.execute(_ITEMS_BY_ID, {KEYS: list(ids)})
    found = {row[0]: OrderItemRecord(*row) for row in rows}
    return [found.get(item_id) for item_id in ids]
