"""Root fields for products."""

from __future__ import annotations

import strawberry

from app.graphql.connections import list_field
from app.graphql.context import Info
from app.graphql.products.types import Product, ProductFilter, ProductOrder
from app.graphql.relay import pk_of
from app.queries import products
from app.queries.keyset import Ordering


@strawberry.type
class ProductQuery:
    products = list_field(
        entity="Product",
        node=Product,
        filter_input=ProductFilter,
        order_input=ProductOrder,
        keys=products.SORT_KEYS,
        default=Ordering(products.SORT_KEYS["CREATED_AT"], descending=False),
        fetch_page=products.products_page,
        fetch_count=products.count_products,
        description="The catalog, oldest first unless orderBy says otherwise.",
    )

    @strawberry.field(description="One product by ID, or null if there is none.")
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        record = await info.context.loaders.product_by_id.load(pk_of(id, "Product"))
        return Product.from_record(record) if record else None
