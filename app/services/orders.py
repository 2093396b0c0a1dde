"""Placing orders and moving them through their life.

placeOrder locks the products it sells in id order (so two orders for the same products
cannot deadlock), checks and decrements stock, snapshots prices and computes the total,
all in one transaction. A retry with the same idempotency key returns the first order.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.db.orders import order_items, order_requests, orders
from app.db.products import products
from app.db.users import users
from app.errors import FieldProblem, Forbidden, InvalidInput
from app.queries.filters import one_of
from app.queries.orders import COLUMNS, OrderRecord
from app.queries.text import MONEY_LIMIT
from app.services import audit
from app.services.audit import Actor
from app.services.bulk import Batch, BulkResult, lock_rows
from app.services.changes import Change, record_change, record_changes
from app.services.stock import adjust_stock, restock
from app.services.validation import Input
from app.services.writes import locked_row

MAX_LINES = 100
Status = Literal["pending", "paid", "shipped", "delivered", "cancelled"]

# Where each status may go next. Cancelling restocks what the order took.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset({"delivered"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
}


class Line(Input):
    product_id: uuid.UUID
    quantity: Annotated[int, Field(ge=1, le=1000)]


class NewOrder(Input):
    user_id: uuid.UUID | None = None
    items: Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)]

    @field_validator("items")
    @classmethod
    def _distinct_products(cls, items: list[Line]) -> list[Line]:
        seen: set[uuid.UUID] = set()
        for line in items:
            if line.product_id in seen:
                raise PydanticCustomError(
                    "DUPLICATE_PRODUCT",
                    "Each product may appear once; add up the quantities instead.",
                )
            seen.add(line.product_id)
        return items

    def fingerprint(self, owner: uuid.UUID) -> bytes:
        lines = sorted((str(line.product_id), line.quantity) for line in self.items)
        return hashlib.sha256(repr((str(owner), lines)).encode()).digest()


async def place_order(conn: AsyncConnection, *, actor: Actor, data: NewOrder) -> OrderRecord:
    viewer_id = policy.require_user(actor.viewer, to="place orders")
    owner = data.user_id or viewer_id
    if owner != viewer_id and not actor.viewer.is_admin:
        raise Forbidden("Only admins may place orders for another user.", field="userId")

    # Locked against deletion until we commit (the actor's own row already is). Before
    # the key's lock: the owner's own requests hold their row from their actor check on,
    # so taking the key first could wait for them while they wait for the key (40P01).
    if not await conn.scalar(
        select(users.c.id).where(users.c.id == owner).with_for_update(key_share=True)
    ):
        raise InvalidInput.one("userId", "NOT_FOUND", "No user with this id.")

    # Requests with the same key wait for each other; the first one's order is the answer.
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"order_request:{owner}:{data.idempotency_key}"},
    )
    fingerprint = data.fingerprint(owner)
    earlier = (
        await conn.execute(
            select(order_requests.c.order_id, order_requests.c.request_hash).where(
                order_requests.c.user_id == owner,
                order_requests.c.idempotency_key == data.idempotency_key,
            )
        )
    ).first()
    if earlier is not None:
        if earlier.request_hash != fingerprint:
            raise InvalidInput.one(
                "idempotencyKey",
                "IDEMPOTENCY_KEY_REUSED",
                "This key was used for a different order; use a new key for a new order.",
            )
        first = (await conn.execute(select(*COLUMNS).where(orders.c.id == earlier.order_id))).one()
        return OrderRecord(*first)

    wanted = {line.product_id: line for line in data.items}
    stock_rows = (
        await conn.execute(
            select(products.c.id, products.c.price, products.c.stock, products.c.version)
            .where(one_of(products.c.id, wanted))
            .order_by(products.c.id)
            .with_for_update()
        )
    ).all()
    found = {row.id: row for row in stock_rows}
    problems = []
    for index, line in enumerate(data.items):
        row = found.get(line.product_id)
        if row is None:
            problems.append(
                FieldProblem(f"items.{index}.productId", "UNKNOWN_PRODUCT", "No such product.")
            )
        elif row.stock < line.quantity:
            problems.append(
                FieldProblem(
                    f"items.{index}.quantity",
                    "OUT_OF_STOCK",
                    f"Only {row.stock} left." if row.stock else "Sold out.",
                )
            )
    if problems:
        raise InvalidInput(problems)

    ids = [line.product_id for line in data.items]
    quantities = [line.quantity for line in data.items]
    await adjust_stock(conn, ids, [-q for q in quantities])
    total = sum((found[i].price * q for i, q in zip(ids, quantities, strict=True)), Decimal(0))
    if total >= MONEY_LIMIT:
        raise InvalidInput.one(
            "items", "TOTAL_TOO_LARGE", f"An order's total must stay below {MONEY_LIMIT}."
        )
    order_row = (
        await conn.execute(insert(orders).values(user_id=owner, total=total).returning(*COLUMNS))
    ).one()
    order = OrderRecord(*order_row)
    await conn.execute(
        insert(order_items),
        [
            {
                "order_id": order.id,
                "line": line,
                "product_id": i,
                "quantity": q,
                "unit_price": found[i].price,
            }
            for line, (i, q) in enumerate(zip(ids, quantities, strict=True), start=1)
        ],
    )
    await conn.execute(
        insert(order_requests).values(
            user_id=owner,
            idempotency_key=data.idempotency_key,
            request_hash=fingerprint,
            order_id=order.id,
        )
    )
    await record_change(
        conn,
        actor=actor,
        action="order.placed",
        topic="order",
        type="CREATED",
        entity_id=order.id,
        owner_id=owner,
        data=order_row._mapping,
        changes=audit.diff(
            None,
            {
                "user_id": owner,
                "status": order.status,
                "total": total,
                "items": [
                    {"product_id": i, "quantity": q, "unit_price": found[i].price}
                    for i, q in zip(ids, quantities, strict=True)
                ],
            },
            ("user_id", "status", "total", "items"),
        ),
    )
    await audit.record_many(
        conn,
        actor=actor,
        action="product.stock_changed",
        entity_type="Product",
        changes={
            i: {"stock": {"before": found[i].stock, "after": found[i].stock - q}}
            for i, q in zip(ids, quantities, strict=True)
        },
    )
    return order


async def update_order_status(
    conn: AsyncConnection,
    *,
    actor: Actor,
    order_id: uuid.UUID,
    status: Status,
    expected_version: int,
) -> OrderRecord:
    policy.require_admin(actor.viewer, to="change an order's status")
    before = await locked_row(
        conn, orders, order_id, expected_version=expected_version, entity="order"
    )
    return await _move(
        conn, actor=actor, before_status=before.status, order_id=order_id, status=status
    )


async def cancel_order(
    conn: AsyncConnection, *, actor: Actor, order_id: uuid.UUID, expected_version: int
) -> OrderRecord:
    policy.require_user(actor.viewer, to="cancel orders")
    before = await locked_row(
        conn,
        orders,
        order_id,
        expected_version=expected_version,
        entity="order",
        visible=lambda row: policy.can_act_for(actor.viewer, row.user_id),
    )
    if before.status != "pending":
        raise InvalidInput.one(
            "id",
            "INVALID_TRANSITION",
            f"Only a pending order can be cancelled by its owner; this one is {before.status}.",
        )
    return await _move(
        conn, actor=actor, before_status="pending", order_id=order_id, status="cancelled"
    )


async def bulk_update_order_status(
    conn: AsyncConnection, *, actor: Actor, batch: Batch[None], status: Status
) -> BulkResult[OrderRecord]:
    """Move many orders to `status` with the rules of update_order_status (no version:
    the state machine decides), in a few statements whatever their number."""
    policy.require_admin(actor.viewer, to="change an order's status")
    attempt = batch.attempt()
    before = await lock_rows(conn, orders, attempt.pks)
    attempt.require(before, entity="order")
    attempt.check(lambda item: check_transition(before[item.pk].status, status))
    if not attempt.may_write:
        return attempt.result([])
    moved = await _move_many(
        conn,
        actor=actor,
        moves=[(item.pk, before[item.pk].status) for item in attempt.pending],
        status=status,
    )
    return attempt.result(moved)


def check_transition(before_status: str, status: str) -> None:
    """INVALID_TRANSITION unless the state machine lets an order go there from here."""
    if status not in TRANSITIONS[before_status]:
        allowed = ", ".join(sorted(TRANSITIONS[before_status])).upper() or "nothing"
        raise InvalidInput.one(
            "status",
            "INVALID_TRANSITION",
            f"An order that is {before_status.upper()} can move to {allowed}, "
            f"not {status.upper()}.",
        )


async def _move(
    conn: AsyncConnection, *, actor: Actor, before_status: str, order_id: uuid.UUID, status: str
) -> OrderRecord:
    check_transition(before_status, status)
    (order,) = await _move_many(conn, actor=actor, moves=[(order_id, before_status)], status=status)
    return order


async def _move_many(
    conn: AsyncConnection,
    *,
    actor: Actor,
    moves: Sequence[tuple[uuid.UUID, str]],
    status: str,
) -> list[OrderRecord]:
    """Move these locked orders, each (id, status before) a checked transition, to
    `status` in one statement; restock them when cancelled. In the order given."""
    ids = [order_id for order_id, _ in moves]
    rows = await conn.execute(
        update(orders)
        .where(one_of(orders.c.id, ids))
        .values(status=status, version=orders.c.version + 1, updated_at=func.now())
        .returning(*COLUMNS)
    )
    after = {row.id: row for row in rows}
    if status == "cancelled":
        await restock(conn, actor=actor, order_ids=ids)
    await record_changes(
        conn,
        actor=actor,
        action="order.status_changed",
        topic="order",
        type="STATUS_CHANGED",
        changes=[
            Change(
                entity_id=order_id,
                owner_id=after[order_id].user_id,
                data=after[order_id]._mapping,
                changes={"status": {"before": before_status, "after": status}},
                changed_fields=["status"],
            )
            for order_id, before_status in moves
        ],
    )
    return [OrderRecord(*after[order_id]) for order_id in ids]
