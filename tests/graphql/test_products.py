"""The products connection: full-text search, price range, stock, ordering."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.products import products
from app.queries.products import ProductWhere, conditions
from tests.conftest import Api
from tests.graphql.operations import PRODUCTS
from tests.helpers import gid, pk, walk


async def expected(engine: AsyncEngine, where: str, order: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT id FROM products WHERE {where} ORDER BY {order}"), params
        )
        return [row.id for row in rows]


@pytest.mark.parametrize(
    ("order_by", "sql"),
    [
        ({"field": "PRICE", "direction": "ASC"}, "price, id"),
        ({"field": "PRICE", "direction": "DESC"}, "price DESC, id DESC"),
        ({"field": "SKU", "direction": "DESC"}, "sku DESC, id DESC"),
        ({"field": "NAME", "direction": "ASC"}, "name, id"),
    ],
)
@pytest.mark.parametrize("backward", [False, True])
async def test_products_walk_every_ordering_in_both_directions(
    api: Api, engine: AsyncEngine, order_by: dict[str, str], sql: str, backward: bool
) -> None:
    nodes = await walk(
        api, PRODUCTS, {"orderBy": order_by}, path=("products",), size=9, backward=backward
    )
    assert [pk(node["id"]) for node in nodes] == await expected(engine, "true", sql)


@pytest.mark.parametrize(
    ("filter", "where", "params"),
    [
        (
            {"search": "keyboard"},
            "search_vector @@ websearch_to_tsquery('english', 'keyboard')",
            {},
        ),
        # Stemming: the plural finds the singular.
        ({"search": "keyboards"}, "name ILIKE '%keyboard%' OR description ILIKE '%keyboard%'", {}),
        (
            {"search": "oak -chair"},
            "(name || ' ' || description) ILIKE '%oak%' AND "
            "(name || ' ' || description) NOT ILIKE '%chair%'",
            {},
        ),
        ({"price": {"min": "100", "max": "500.50"}}, "price BETWEEN 100 AND 500.50", {}),
        ({"price": {"min": 250}}, "price >= 250", {}),
        ({"inStock": True}, "stock > 0", {}),
        (
            {"createdAt": {"from": "2026-01-01T00:00:10Z", "to": "2026-01-01T00:00:20Z"}},
            "created_at >= '2026-01-01T00:00:10Z' AND created_at < '2026-01-01T00:00:20Z'",
            {},
        ),
        ({"inStock": False}, "stock = 0", {}),
        (
            {"search": "steel", "inStock": True},
            "stock > 0 AND search_vector @@ websearch_to_tsquery('english', 'steel')",
            {},
        ),
    ],
)
async def test_products_filter(
    api: Api, engine: AsyncEngine, filter: dict[str, Any], where: str, params: dict[str, Any]
) -> None:
    want = await expected(engine, where, "created_at, id", **params)
    assert want, "the filter should match something in the standard data set"
    data = await api.data(PRODUCTS, {"filter": filter, "first": 100})
    assert [pk(edge["node"]["id"]) for edge in data["products"]["edges"]] == want
    assert data["products"]["totalCount"] == len(want)


async def test_product_search_uses_the_gin_index(engine: AsyncEngine) -> None:
    """The app's own search condition, not a hand-written copy, is answered by the index."""
    stmt = select(products.c.id).where(*conditions(ProductWhere(search="lamp")))
    async with engine.connect() as conn:
        compiled = stmt.compile(dialect=conn.dialect)
        params = [compiled.params[name] for name in compiled.positiontup or []]
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in await raw.fetch(f"EXPLAIN {compiled}", *params))
    assert "ix_products_search_vector" in plan


async def test_product_fields_and_money_format(api: Api, engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM products ORDER BY sku LIMIT 1"))).one()
    query = "query($id: ID!) { product(id: $id) { sku name description price stock createdAt } }"
    product = (await api.data(query, {"id": gid("Product", row.id)}))["product"]
    assert product["sku"] == row.sku
    assert product["price"] == f"{row.price:.2f}"
    assert Decimal(product["price"]) == row.price
    assert product["stock"] == row.stock
    assert product["createdAt"].endswith("+00:00")
