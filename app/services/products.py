"""Managing the catalog."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.db.orders import order_items
from app.db.products import products
from app.errors import InvalidInput
from app.queries.products import COLUMNS, ProductRecord
from app.services import audit, outbox
from app.services.audit import Actor
from app.services.changes import record_change
from app.services.validation import Input, Money, Name
from app.services.writes import invalid_from_constraint, locked_row

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
    if await conn.scalar(select(exists().where(order_items.c.product_id == product_id))):
        raise InvalidInput.one(
            "id",
            "PRODUCT_IN_USE",
            "Orders refer to this product, so it cannot be deleted; set its stock to 0 "
            "to stop selling it.",
        )
    await conn.execute(delete(products).where(products.c.id == product_id))
    await record_change(
        conn,
        actor=actor,
        action="product.deleted",
        topic="product",
        type="DELETED",
        entity_id=product_id,
        owner_id=None,
        data={column.name: before._mapping[column.name] for column in COLUMNS},
        changes=audit.diff(before._mapping, None, FIELDS),
    )


async def emit_product_change(
    conn: AsyncConnection, row: Mapping[Any, Any], *, changed: Iterable[str], stock_before: int
) -> None:
    """An UPDATED event; `inStock` joins the changed fields when stock crossed zero."""
    fields = list(changed)
    if (stock_before > 0) != (row["stock"] > 0):
        fields.append("inStock")
    await outbox.emit(
        conn,
        topic="product",
        type="UPDATED",
        entity_id=row["id"],
        owner_id=None,
        data={column.name: row[column.name] for column in COLUMNS},
        changed_fields=fields,
    )
