"""Bulk writes on the catalog. Admins only."""

from __future__ import annotations

import uuid

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.graphql.bulk import BulkItemError, ErrorPolicy, bulk_write, ids_batch
from app.graphql.context import Info
from app.graphql.products.mutations import money_or_none
from app.graphql.products.types import Product
from app.graphql.relay import pk_of, to_global_id
from app.graphql.scalars import Money
from app.queries.products import ProductRecord
from app.services import bulk, products
from app.services.audit import Actor
from app.services.validation import validate


@strawberry.input(description="One product's changes; leave out what stays the same.")
class BulkUpdateProductInput:
    id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=None, description="The version you read; left out, any version is changed."
    )
    name: str | None = strawberry.field(default=None, description="1 to 100 characters.")
    price: Money | None = strawberry.field(default=None, description=">= 0, two decimals.")
    stock: int | None = strawberry.field(default=None, description=">= 0.")


@strawberry.type(description="The products updated, and what was wrong with the others.")
class BulkUpdateProductsPayload:
    count: int = strawberry.field(description="How many products were updated.")
    products: list[Product] = strawberry.field(description="The updated products, in input order.")
    errors: list[BulkItemError]
    failed_count: int = strawberry.field(description="How many items were not written.")


@strawberry.type(description="The products deleted, and what was wrong with the others.")
class BulkDeleteProductsPayload:
    count: int = strawberry.field(description="How many products were deleted.")
    deleted_ids: list[strawberry.ID] = strawberry.field(description="In input order.")
    errors: list[BulkItemError]
    failed_count: int = strawberry.field(description="How many items were not written.")


def _edits(
    items: list[BulkUpdateProductInput], policy: ErrorPolicy
) -> bulk.Batch[products.ProductEdit]:
    batch: bulk.Batch[products.ProductEdit] = bulk.Batch(
        policy=policy.to_service(), size=len(items), field="items"
    )
    for index, item in enumerate(items):
        with batch.parsing(index, item.id):
            pk = pk_of(item.id, "Product")
            changes = validate(
                products.ProductChanges,
                name=item.name,
                price=money_or_none(item.price),
                stock=item.stock,
            )
            batch.add(
                index=index,
                id=item.id,
                pk=pk,
                value=products.ProductEdit(changes, item.expected_version),
            )
    return batch


@strawberry.type
class ProductBulkMutation:
    @strawberry.mutation(
        description="Change up to 10000 products at once (name, price, stock), with the "
        "rules of updateProduct. Admins only."
    )
    async def bulk_update_products(
        self,
        info: Info,
        items: list[BulkUpdateProductInput],
        error_policy: ErrorPolicy = ErrorPolicy.REJECT_EVERYTHING,
    ) -> BulkUpdateProductsPayload:
        async def work(
            conn: AsyncConnection, actor: Actor, batch: bulk.Batch[products.ProductEdit]
        ) -> bulk.BulkResult[ProductRecord]:
            return await products.bulk_update_products(conn, actor=actor, batch=batch)

        outcome = await bulk_write(info, lambda: _edits(items, error_policy), work)
        return BulkUpdateProductsPayload(
            count=len(outcome.written),
            products=[Product.from_record(record) for record in outcome.written],
            errors=outcome.errors,
            failed_count=outcome.failed_count,
        )

    @strawberry.mutation(
        description="Delete up to 10000 products no order refers to, with the rules of "
        "deleteProduct. Admins only."
    )
    async def bulk_delete_products(
        self,
        info: Info,
        ids: list[strawberry.ID],
        error_policy: ErrorPolicy = ErrorPolicy.REJECT_EVERYTHING,
    ) -> BulkDeleteProductsPayload:
        async def work(
            conn: AsyncConnection, actor: Actor, batch: bulk.Batch[None]
        ) -> bulk.BulkResult[uuid.UUID]:
            return await products.bulk_delete_products(conn, actor=actor, batch=batch)

        outcome = await bulk_write(
            info, lambda: ids_batch(ids, "Product", policy=error_policy), work
        )
        return BulkDeleteProductsPayload(
            count=len(outcome.written),
            deleted_ids=[to_global_id("Product", pk) for pk in outcome.written],
            errors=outcome.errors,
            failed_count=outcome.failed_count,
        )
