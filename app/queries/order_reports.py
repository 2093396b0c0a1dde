"""Reading orders for printed documents: an invoice's lines, a report's rows and totals.

The report reads with the connection's filter (app.queries.orders.conditions, the
viewer's scope included), so it shows exactly the orders the `orders` connection would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.orders import order_items, orders
from app.db.products import products
from app.db.users import users
from app.queries.keyset import Ordering
from app.queries.orders import OrderWhere, conditions


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.quantity * self.unit_price


async def invoice_lines(conn: AsyncConnection, order_id: uuid.UUID) -> list[InvoiceLine]:
    """An order's lines in the order they were given, with each product's SKU and name."""
    rows = await conn.execute(
        select(products.c.sku, products.c.name, order_items.c.quantity, order_items.c.unit_price)
        .join(products, products.c.id == order_items.c.product_id)
        .where(order_items.c.order_id == order_id)
        .order_by(order_items.c.line)
    )
    return [InvoiceLine(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class StatusTotal:
    status: str
    orders: int
    amount: Decimal


async def totals_by_status(conn: AsyncConnection, *, where: OrderWhere) -> list[StatusTotal]:
    rows = await conn.execute(
        select(orders.c.status, func.count(), func.coalesce(func.sum(orders.c.total), 0))
        .where(*conditions(where))
        .group_by(orders.c.status)
    )
    return [StatusTotal(status, count, Decimal(amount)) for status, count, amount in rows]


@dataclass(frozen=True, slots=True)
class ReportRow:
    id: uuid.UUID
    created_at: datetime
    status: str
    total: Decimal
    buyer_name: str
    buyer_email: str
    units: int


_UNITS = (
    select(func.coalesce(func.sum(order_items.c.quantity), 0))
    .where(order_items.c.order_id == orders.c.id)
    .scalar_subquery()
)


async def report_rows(
    conn: AsyncConnection, *, where: OrderWhere, ordering: Ordering, limit: int
) -> list[ReportRow]:
    """At most `limit` orders in `ordering` (ties broken by id, as in the connection)."""
    column = orders.c[ordering.key.column]
    order_by = [column.desc(), orders.c.id.desc()] if ordering.descending else [column, orders.c.id]
    rows = await conn.execute(
        select(
            orders.c.id,
            orders.c.created_at,
            orders.c.status,
            orders.c.total,
            users.c.name,
            users.c.email,
            _UNITS,
        )
        .join(users, users.c.id == orders.c.user_id)
        .where(*conditions(where))
        .order_by(*order_by)
        .limit(limit)
    )
    return [ReportRow(*row) for row in rows]
