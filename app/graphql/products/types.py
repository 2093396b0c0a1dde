"""The Product type and its filter and ordering inputs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from app.graphql.audit.fields import history_field
from app.graphql.caching import Cached, CacheScope, through_cache
from app.graphql.context import Info
from app.graphql.inputs import DateTimeRange, MoneyRange
from app.graphql.relay import (
    Node,
    SortDirection,
)
from app.graphql.scalars import Money
from app.graphql.stats.types import SalesStats
from app.queries import stats
from app.queries.products import ProductRecord, ProductWhere
from app.queries.text import checked_text, checked_time

if TYPE_CHECKING:
    pass


SALES_CACHE = Cached(ttl=60, scope=CacheScope.PUBLIC)


@strawberry.type(description="Something for sale.")
class Product(Node):
    pk: strawberry.Private[uuid.UUID]
    sku: str = strawberry.field(
        description="Stock-keeping unit: upper-case letters, digits, dashes."
    )
    name: str
    description: str
    price: Money
    stock: int = strawberry.field(description="Units available to order.")
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Send as expectedVersion when you update.")

    @classmethod
    def from_record(cls, record: ProductRecord) -> Product:
        return cls(
            pk=record.id,
            sku=record.sku,
            name=record.name,
            description=record.description,
            price=Money(record.price),
            stock=record.stock,
            created_at=record.created_at,
            updated_at=record.updated_at,
            version=record.version,
        )

    history = history_field("product")

    @strawberry.field(
        description="How this product sold, since a time if given.",
        directives=[SALES_CACHE],
    )
    async def sales_stats(self, info: Info, since: datetime | None = None) -> SalesStats:
        start = checked_time(since, field="since") if since is not None else None
        record = await through_cache(
            info,
            type_name="Product",
            field_name="salesStats",
            parent_id=str(self.pk),
            arguments={"since": start},
            hint=SALES_CACHE,
            tags=[f"product:{self.pk}:sales"],
            compute=lambda: info.context.loaders.sales_by_product_id(start).load(self.pk),
            encode=stats.encode_sales,
            decode=stats.decode_sales,
        )
        return SalesStats.from_record(record)


@strawberry.enum(description="Fields a products connection can be ordered by.")
class ProductSortField(Enum):
    CREATED_AT = "created_at"
    NAME = "name"
    PRICE = "price"
    SKU = "sku"


@strawberry.input(description="How to order products; ties are broken by id.")
class ProductSort:
    field: ProductSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Narrows a products connection; all given conditions must hold.")
class ProductFilter:
    search: str | None = strawberry.field(
        default=None,
        description='Full-text search over name and description: words, "quoted phrases", '
        "OR, and -excluded words.",
    )
    price: MoneyRange | None = None
    in_stock: bool | None = strawberry.field(
        default=None, description="true: stock > 0; false: sold out."
    )
    created_at: DateTimeRange | None = None

    def to_query(self) -> ProductWhere:
        return ProductWhere(
            search=checked_text(self.search, field="filter.search", max_length=256)
            if self.search is not None
            else None,
            price=self.price.to_query(field="filter.price") if self.price else None,
            in_stock=self.in_stock,
            created_at=self.created_at.to_query(field="filter.createdAt")
            if self.created_at
            else None,
        )
