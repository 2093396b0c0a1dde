"""Mutations on the catalog. Admins only."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.graphql.context import Info
from app.graphql.payloads import InputError, write
from app.graphql.products.types import Product
from app.graphql.relay import pk_of
from app.graphql.scalars import Money
from app.queries.products import ProductRecord
from app.services import products
from app.services.audit import Actor
from app.services.validation import validate


@strawberry.input(description="A new product. SKU is upper-cased.")
class CreateProductInput:
    sku: str = strawberry.field(description="2-40 of A-Z, 0-9 and dashes; unique.")
    name: str = strawberry.field(description="1 to 100 characters.")
    price: Money = strawberry.field(description=">= 0, at most two decimals.")
    description: str = ""
    stock: int = 0


@strawberry.input(description="Changes to a product; leave out what stays the same.")
class UpdateProductInput:
    id: strawberry.ID
    expected_version: int = strawberry.field(description="The version you read.")
    sku: str | None = None
    name: str | None = None
    description: str | None = None
    price: Money | None = None
    stock: int | None = None


@strawberry.input(description="The product to delete, at the version you read.")
class DeleteProductInput:
    id: strawberry.ID
    expected_version: int


@strawberry.type(description="The product after the change, or what to fix.")
class ProductPayload:
    product: Product | None
    errors: list[InputError]


@strawberry.type(description="The deleted product's ID, or what to fix.")
class DeleteProductPayload:
    deleted_id: strawberry.ID | None
    errors: list[InputError]


def _payload(result: tuple[ProductRecord | None, list[InputError]]) -> ProductPayload:
    record, errors = result
    return ProductPayload(product=Product.from_record(record) if record else None, errors=errors)


def money_or_none(value: object) -> Decimal | None:
    return value if isinstance(value, Decimal) else None


@strawberry.type
class ProductMutation:
    @strawberry.mutation(description="Add a product to the catalog. Admins only.")
    async def create_product(self, info: Info, input: CreateProductInput) -> ProductPayload:
        async def work(conn: AsyncConnection, actor: Actor) -> ProductRecord:
            data = validate(
                products.NewProduct,
                sku=input.sku,
                name=input.name,
                description=input.description,
                price=money_or_none(input.price),
                stock=input.stock,
            )
            return await products.create_product(conn, actor=actor, data=data)

        return _payload(await write(info, work))

    @strawberry.mutation(description="Change a product. Admins only.")
    async def update_product(self, info: Info, input: UpdateProductInput) -> ProductPayload:
        product_id = pk_of(input.id, "Product")

        async def work(conn: AsyncConnection, actor: Actor) -> ProductRecord:
            changes = validate(
                products.ProductChanges,
                sku=input.sku,
                name=input.name,
                description=input.description,
                price=money_or_none(input.price),
                stock=input.stock,
            )
            return await products.update_product(
                conn,
                actor=actor,
                product_id=product_id,
                expected_version=input.expected_version,
                changes=changes,
            )

        return _payload(await write(info, work))

    @strawberry.mutation(
        description="Delete a product no order refers to (else set its stock to 0). Admins only."
    )
    async def delete_product(self, info: Info, input: DeleteProductInput) -> DeleteProductPayload:
        product_id = pk_of(input.id, "Product")

        async def work(conn: AsyncConnection, actor: Actor) -> None:
            await products.delete_product(
                conn,
                actor=actor,
                product_id=product_id,
                expected_version=input.expected_version,
            )

        _, errors = await write(info, work)
        return DeleteProductPayload(deleted_id=None if errors else input.id, errors=errors)
