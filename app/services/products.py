"""Managing the catalog."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from sqlalchemy import Row, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.db.orders import order_items
from app.db.products import products
from app.errors import InvalidInput
from app.queries.filters import one_of
from app.queries.products import COLUMNS, ProductRecord
from app.services import audit, outbox
from app.services.audit import Actor
from app.services.bulk import Batch, BulkResult, Item, lock_rows
from app.services.changes import Change, record_change, record_changes
from app.services.validation import Input, Money, Name
from app.services.writes import check_version, invalid_from_constraint, locked_row

FIELDS = ("sku", "name", "description", "price", "stock")
_CONSTRAINTS = {
    "uq_products_sku": ("sku", "SKU_TAKEN", "Another product has this SKU."),
    "ck_products_stock_non_negative": ("stock", "OUT_OF_STOCK", "Stock cannot go below zero."),
    "ck_products_price_non_negative": ("price", "TOO_SMALL", "Price cannot be negative."),
    "ck_products_sku_format": ("sku", "INVALID_FORMAT", "Use A-Z, 0-9 and dashes."),
}

Sku = Annotated[
    str,
    AfterValidator(str.upper),
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,39}$", description="A-Z, 0-9, dashes; 2-40"),
]
Description = Annotated[str, Field(max_length=5000)]
Stock = Annotated[int, Field(ge=0, le=1_000_000_000)]


class NewProduct(Input):
    sku: Sku
    name: Name
    description: Description = ""
    price: Money
    stock: Stock = 0


class ProductChanges(Input):
    sku: Sku | None = None
    name: Name | None = None
    description: Description | None = None
    price: Money | None = None
    stock: Stock | None = None


async def create_product(conn: AsyncConnection, *, actor: Actor, data: NewProduct) -> ProductRecord:
    policy.require_admin(actor.viewer, to="create products")
    try:
        row = (
            await conn.execute(insert(products).values(**data.model_dump()).returning(*COLUMNS))
        ).one()
    except IntegrityError as exc:
        raise invalid_from_constraint(exc, _CONSTRAINTS) or exc from None
    product = ProductRecord(*row)
    await record_change(
        conn,
        actor=actor,
        action="product.created",
        topic="product",
        type="CREATED",
        entity_id=product.id,
        owner_id=None,
        data=row._mapping,
        changes=audit.diff(None, row._mapping, FIELDS),
    )
    return product


async def update_product(
    conn: AsyncConnection,
    *,
    actor: Actor,
    product_id: uuid.UUID,
    expected_version: int,
    changes: ProductChanges,
) -> ProductRecord:
    policy.require_admin(actor.viewer, to="update products")
    before = await locked_row(
        conn, products, product_id, expected_version=expected_version, entity="product"
    )
    try:
        row = (
            await conn.execute(
                update(products)
                .where(products.c.id == product_id)
                .values(
                    **changes.model_dump(exclude_none=True),
                    version=products.c.version + 1,
                    updated_at=func.now(),
                )
                .returning(*COLUMNS)
            )
        ).one()
    except IntegrityError as exc:
        raise invalid_from_constraint(exc, _CONSTRAINTS) or exc from None
    changed = audit.diff(before._mapping, row._mapping, FIELDS)
    await emit_product_change(conn, row._mapping, changed=changed, stock_before=before.stock)
    await audit.record(
        conn,
        actor=actor,
        action="product.updated",
        entity_type="Product",
        entity_id=product_id,
        changes=changed,
    )
    return ProductRecord(*row)


async def delete_product(
    conn: AsyncConnection, *, actor: Actor, product_id: uuid.UUID, expected_version: int
) -> None:
    policy.require_admin(actor.viewer, to="delete products")
    before = await locked_row(
        conn, products, product_id, expected_version=expected_version, entity="product"
    )
    if await products_in_use(conn, [product_id]):
        raise in_use()
    await _delete(conn, actor=actor, rows=[before])


@dataclass(frozen=True, slots=True)
class ProductEdit:
    """One item of a bulk update: its changes, and the version read (None: any)."""

    changes: ProductChanges
    expected_version: int | None = None


async def bulk_update_products(
    conn: AsyncConnection, *, actor: Actor, batch: Batch[ProductEdit]
) -> BulkResult[ProductRecord]:
    """Update many products with the rules of update_product, in a few statements."""
    policy.require_admin(actor.viewer, to="update products")
    attempt = batch.attempt()
    before = await lock_rows(conn, products, attempt.pks)

    def rule(item: Item[ProductEdit]) -> None:
        if item.value.expected_version is not None:
            check_version(
                before[item.pk], expected_version=item.value.expected_version, entity="product"
            )

    attempt.require(before, entity="product")
    attempt.check(rule)
    if not attempt.may_write:
        return attempt.result([])
    edits = [
        {"id": str(item.pk), **item.value.changes.model_dump(mode="json", exclude_none=True)}
        for item in attempt.pending
    ]
    rows = await conn.execute(_UPDATE_MANY, {"edits": edits})
    after = {row.id: row for row in rows}
    written = [after[item.pk] for item in attempt.pending]
    changed = {row.id: audit.diff(before[row.id]._mapping, row._mapping, FIELDS) for row in written}
    await emit_product_changes(
        conn, [(row._mapping, list(changed[row.id]), before[row.id].stock) for row in written]
    )
    await audit.record_many(
        conn, actor=actor, action="product.updated", entity_type="Product", changes=changed
    )
    return attempt.result([ProductRecord(*row) for row in written])


# What a bulk update may change; a field left out keeps its value.
_UPDATE_MANY = text(
    f"""
    UPDATE products AS p
    SET name = coalesce(e.name, p.name),
        price = coalesce(e.price, p.price),
        stock = coalesce(e.stock, p.stock),
        version = p.version + 1,
        updated_at = now()
    FROM jsonb_to_recordset(:edits) AS e(id uuid, name text, price numeric, stock int)
    WHERE p.id = e.id
    RETURNING {", ".join(f"p.{column.name}" for column in COLUMNS)}
    """
).bindparams(bindparam("edits", type_=JSONB))


async def bulk_delete_products(
    conn: AsyncConnection, *, actor: Actor, batch: Batch[None]
) -> BulkResult[uuid.UUID]:
    """Delete many products with the rules of delete_product (no version: the ids say
    which), in a few statements."""
    policy.require_admin(actor.viewer, to="delete products")
    attempt = batch.attempt()
    before = await lock_rows(conn, products, attempt.pks)
    attempt.require(before, entity="product")
    used = await products_in_use(conn, attempt.pks)

    def rule(item: Item[None]) -> None:
        if item.pk in used:
            raise in_use()

    attempt.check(rule)
    if not attempt.may_write:
        return attempt.result([])
    await _delete(conn, actor=actor, rows=[before[item.pk] for item in attempt.pending])
    return attempt.result([item.pk for item in attempt.pending])


def in_use() -> InvalidInput:
    return InvalidInput.one(
        "id",
        "PRODUCT_IN_USE",
        "Orders refer to this product, so it cannot be deleted; set its stock to 0 "
        "to stop selling it.",
    )


async def products_in_use(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` that an order line refers to (and so may not be deleted)."""
    if not ids:
        return set()
    used = await conn.scalars(
        select(order_items.c.product_id).where(one_of(order_items.c.product_id, ids)).distinct()
    )
    return set(used)


async def _delete(conn: AsyncConnection, *, actor: Actor, rows: Sequence[Row[Any]]) -> None:
    """Delete these locked rows in one statement; a DELETED event and audit record each."""
    await conn.execute(delete(products).where(one_of(products.c.id, [row.id for row in rows])))
    await record_changes(
        conn,
        actor=actor,
        action="product.deleted",
        topic="product",
        type="DELETED",
        changes=[
            Change(
                entity_id=row.id,
                owner_id=None,
                data={column.name: row._mapping[column.name] for column in COLUMNS},
                changes=audit.diff(row._mapping, None, FIELDS),
            )
            for row in rows
        ],
    )


async def emit_product_change(
    conn: AsyncConnection, row: Mapping[Any, Any], *, changed: Iterable[str], stock_before: int
) -> None:
    """An UPDATED event; `inStock` joins the changed fields when stock crossed zero."""
    await emit_product_changes(conn, [(row, list(changed), stock_before)])


async def emit_product_changes(
    conn: AsyncConnection, updates: Sequence[tuple[Mapping[Any, Any], Sequence[str], int]]
) -> None:
    """`emit_product_change` for many (row after, changed fields, stock before), in one
    statement and in the given order."""
    await outbox.emit_many(
        conn,
        topic="product",
        type="UPDATED",
        events=[
            outbox.Event(
                entity_id=row["id"],
                owner_id=None,
                data={column.name: row[column.name] for column in COLUMNS},
                changed_fields=[
                    *changed,
                    *(["inStock"] if (stock_before > 0) != (row["stock"] > 0) else []),
                ],
            )
            for row, changed, stock_before in updates
        ],
    )
