"""Reading products, including full-text search."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.products import SEARCH_CONFIG, products
from app.queries.filters import KEYS, MoneyRange, TimeRange, any_key, money_range, time_range
from app.queries.keyset import Page, SortKey, Window, apply_window, to_page


@dataclass(frozen=True, slots=True)
class ProductRecord:
    id: uuid.UUID
    sku: str
    name: str
    description: str
    price: Decimal
    stock: int
    created_at: datetime
    updated_at: datetime
    version: int


COLUMNS = [getattr(products.c, name) for name in ProductRecord.__dataclass_fields__]


@dataclass(frozen=True, slots=True)
class ProductWhere:
    search: str | None = None
    price: MoneyRange | None = None
    in_stock: bool | None = None
    created_at: TimeRange | None = None


SORT_KEYS = {
    key.name: key
    for key in (
        SortKey("CREATED_AT", "created_at", datetime),
        SortKey("NAME", "name", str),
        SortKey("PRICE", "price", Decimal),
        SortKey("SKU", "sku", str),
    )
}


def conditions(where: ProductWhere | None) -> list[ColumnElement[bool]]:
    if where is None:
        return []
    result: list[ColumnElement[bool]] = []
    if where.search is not None and where.search.strip():
        # websearch syntax: words, "quoted phrases", OR, -excluded. Never a syntax error.
        query = func.websearch_to_tsquery(SEARCH_CONFIG, where.search.strip())
        result.append(products.c.search_vector.bool_op("@@")(query))
    result += money_range(products.c.price, where.price, field="filter.price")
    if where.in_stock is True:
        result.append(products.c.stock > 0)
    elif where.in_stock is False:
        result.append(products.c.stock == 0)
    result += time_range(products.c.created_at, where.created_at, field="filter.createdAt")
    return result


_BY_ID = select(*COLUMNS).where(any_key(products.c.id))


async def products_by_id(
    conn: AsyncConnection, ids: Sequence[uuid.UUID]
) -> list[ProductRecord | None]:
    rows = await conn.execute(_BY_ID, {KEYS: list(ids)})
    found = {row[0]: ProductRecord(*row) for row in rows}
    return [found.get(product_id) for product_id in ids]


async def products_page(
    conn: AsyncConnection, *, where: ProductWhere | None, window: Window
) -> Page[ProductRecord]:
    stmt = apply_window(select(*COLUMNS).where(*conditions(where)), products, window)
    rows = await conn.execute(stmt)
    return to_page([ProductRecord(*row) for row in rows], window)


async def count_products(conn: AsyncConnection, *, where: ProductWhere | None) -> int:
    stmt = select(func.count()).select_from(products).where(*conditions(where))
    return int((await conn.execute(stmt)).scalar_one())
