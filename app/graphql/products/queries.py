"""Root fields for products."""

from __future__ import annotations

import strawberry

from app.graphql.connections import PageArgs, paging, root_connection
from app.graphql.context import Info
from app.graphql.products.types import Product, ProductFilter, ProductOrder
from app.graphql.relay import After, Before, Connection, First, Last, pk_of
from app.queries import products
from app.queries.keyset import Ordering

DEFAULT_ORDER = Ordering(products.SORT_KEYS["CREATED_AT"], descending=False)


@strawberry.type
class ProductQuery:
    @strawberry.field(description="The catalog, oldest first unless orderBy says otherwise.")
    async def products(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: ProductFilter | None = None,
        order_by: ProductOrder | None = None,
    ) -> Connection[Product]:
        codec, window = paging(
            info,
            entity="Product",
            args=PageArgs(first, after, last, before),
            order_by=order_by,
            keys=products.SORT_KEYS,
            default=DEFAULT_ORDER,
        )
        return await root_connection(
            info,
            codec=codec,
            window=window,
            where=filter.to_query() if filter else None,
            fetch_page=products.products_page,
            fetch_count=products.count_products,
            node=Product.from_record,
        )

    @strawberry.field(description="One product by ID, or null if there is none.")
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        record = await info.context.loaders.product_by_id.load(pk_of(id, "Product"))
        return Product.from_record(record) if record else None
