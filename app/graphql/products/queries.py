"""Root fields for products."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

import orjson
import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import BadInput
from app.events import snapshots
from app.graphql.caching import Cached, CacheScope, through_cache
from app.graphql.connections import CachedConnection, list_field
from app.graphql.context import Info
from app.graphql.cost import Cost, ListSize
from app.graphql.products.types import Product, ProductFilter, ProductSort
from app.graphql.relay import pk_of
from app.graphql.stats.types import SalesStats
from app.queries import products, stats
from app.queries.keyset import Ordering
from app.queries.products import ProductRecord
from app.queries.text import checked_time
from app.services.audit import plain

# Oldest first: the connection's order without orderBy (and its export's).
DEFAULT_ORDER = Ordering(products.SORT_KEYS["CREATED_AT"], descending=False)
TOP_PRODUCTS_CACHE = Cached(ttl=60, scope=CacheScope.PUBLIC)


def _encode_ranking(entries: list[tuple[ProductRecord, stats.SalesStats]]) -> bytes:
    return orjson.dumps(
        [
            [
                {f.name: plain(getattr(record, f.name)) for f in dataclasses.fields(record)},
                orjson.loads(stats.encode_sales(sales)),
            ]
            for record, sales in entries
        ]
    )


def _decode_ranking(raw: bytes) -> list[tuple[ProductRecord, stats.SalesStats]]:
    return [
        (snapshots.product(record), stats.decode_sales(orjson.dumps(sales)))
        for record, sales in orjson.loads(raw)
    ]


@strawberry.type(description="A product and how it sold.")
class TopProduct:
    product: Product
    sales: SalesStats


@strawberry.type
class ProductQuery:
    products = list_field(
        entity="Product",
        node=Product,
        filter_input=ProductFilter,
        order_input=ProductSort,
        keys=products.SORT_KEYS,
        default=DEFAULT_ORDER,
        fetch_page=products.products_page,
        fetch_count=products.count_products,
        description="The catalog, oldest first unless orderBy says otherwise.",
        cache=CachedConnection(
            field="products",
            hint=Cached(ttl=30, scope=CacheScope.PUBLIC),
            tags=("products",),
            decode_record=snapshots.product,
        ),
    )

    @strawberry.field(
        description="The best sellers by units sold (then revenue), since a time.",
        directives=[
            TOP_PRODUCTS_CACHE,
            ListSize(slicing_arguments=["limit"], require_one_slicing_argument=False),
            Cost(weight="10"),
        ],
    )
    async def top_products(
        self, info: Info, limit: int = 10, since: datetime | None = None
    ) -> list[TopProduct]:
        if not 1 <= limit <= 100:
            raise BadInput(f"`limit` must be between 1 and 100; got {limit}.", field="limit")
        start = checked_time(since, field="since") if since is not None else None
        loaders = info.context.loaders

        async def read(conn: AsyncConnection) -> list[tuple[uuid.UUID, stats.SalesStats]]:
            return await stats.top_products(conn, limit=limit, since=start)

        async def ranking() -> list[tuple[ProductRecord, stats.SalesStats]]:
            ranked = await loaders.run(read)
            found = await loaders.product_by_id.load_many([pid for pid, _ in ranked])
            return [
                (record, sales)
                for record, (_, sales) in zip(found, ranked, strict=True)
                if record is not None
            ]

        # The products travel with the ranking: a warm read needs no SQL at all, and any
        # product change (tag `products`) refreshes it.
        entries = await through_cache(
            info,
            type_name="Query",
            field_name="topProducts",
            parent_id=None,
            arguments={"limit": limit, "since": start},
            hint=TOP_PRODUCTS_CACHE,
            tags=["sales", "products"],
            compute=ranking,
            encode=_encode_ranking,
            decode=_decode_ranking,
        )
        return [
            TopProduct(product=Product.from_record(record), sales=SalesStats.from_record(sales))
            for record, sales in entries
        ]

    @strawberry.field(description="One product by ID, or null if there is none.")
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        record = await info.context.loaders.product_by_id.load(pk_of(id, "Product"))
        return Product.from_record(record) if record else None
