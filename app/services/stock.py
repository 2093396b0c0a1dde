"""Taking stock and putting it back: one statement for any number of products, which
are locked in id order (as placeOrder locks them) so that no two writes deadlock."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.orders import order_items
from app.db.products import products
from app.queries.filters import one_of
from app.queries.products import COLUMNS as PRODUCT_COLUMNS
from app.services import audit
from app.services.audit import Actor
from app.services.products import emit_product_changes


async def restock(conn: AsyncConnection, *, actor: Actor, order_ids: Sequence[uuid.UUID]) -> None:
    """Put back what these orders took: one stock change per product, however many of
    the orders sold it."""
    lines = (
        await conn.execute(
            select(order_items.c.product_id, func.sum(order_items.c.quantity).label("quantity"))
            .where(one_of(order_items.c.order_id, order_ids))
            .group_by(order_items.c.product_id)
            .order_by(order_items.c.product_id)
        )
    ).all()
    ids = [line.product_id for line in lines]
    # Lock in id order, like placeOrder, so the two never deadlock.
    await conn.execute(
        select(products.c.id)
        .where(one_of(products.c.id, ids))
        .order_by(products.c.id)
        .with_for_update()
    )
    quantities = [int(line.quantity) for line in lines]
    before = await adjust_stock(conn, ids, quantities)
    await audit.record_many(
        conn,
        actor=actor,
        action="product.stock_changed",
        entity_type="Product",
        changes={
            product_id: {
                "stock": {"before": before[product_id], "after": before[product_id] + quantity}
            }
            for product_id, quantity in zip(ids, quantities, strict=True)
        },
    )


async def adjust_stock(
    conn: AsyncConnection, ids: list[uuid.UUID], deltas: list[int]
) -> dict[uuid.UUID, int]:
    """Add each delta to its product's stock in one statement; returns the stock before.

    Each product changed is an UPDATED event for productEvents subscribers.
    """
    if not ids:
        return {}
    rows = (
        await conn.execute(
            text(
                f"""
                UPDATE products AS p
                SET stock = p.stock + d.delta, version = p.version + 1, updated_at = now()
                FROM unnest(CAST(:ids AS uuid[]), CAST(:deltas AS int[])) AS d(id, delta)
                WHERE p.id = d.id
                RETURNING {", ".join(f"p.{c.name}" for c in PRODUCT_COLUMNS)},
                          p.stock - d.delta AS stock_before
                """
            ),
            {"ids": ids, "deltas": deltas},
        )
    ).all()
    await emit_product_changes(
        conn,
        [
            (row._mapping, ["stock"], row.stock_before)
            for row in sorted(rows, key=lambda row: row.id)
        ],
    )
    return {row.id: row.stock_before for row in rows}
