"""Loaders: built per request, one result per key in key order, None when missing."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db.engine import read_only
from app.loaders import Loaders
from tests.conftest import running_app
from tests.helpers import gid


async def test_batch_answers_in_key_order_with_none_for_missing(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        ids = [row.id for row in await conn.execute(text("SELECT id FROM products LIMIT 3"))]
    loaders = Loaders(read_only(engine))
    keys = [ids[2], uuid.uuid4(), ids[0], ids[1]]
    records = await asyncio.gather(*(loaders.product_by_id.load(key) for key in keys))
    assert [record.id if record else None for record in records] == [ids[2], None, ids[0], ids[1]]


async def test_each_request_reads_fresh_data(empty_url: str) -> None:
    engine = create_async_engine(empty_url)
    try:
        async with engine.begin() as conn:
            product_id = (
                await conn.execute(
                    text(
                        "INSERT INTO products (sku, name, price) VALUES ('SKU-1', 'A', 1) "
                        "RETURNING id"
                    )
                )
            ).scalar_one()
        async with running_app(empty_url) as fresh:
            query = "query($id: ID!) { product(id: $id) { price } }"
            variables = {"id": gid("Product", product_id)}
            assert (await fresh.data(query, variables))["product"]["price"] == "1.00"
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE products SET price = 2"))
            # A loader cache shared between requests would still answer 1.00.
            assert (await fresh.data(query, variables))["product"]["price"] == "2.00"
    finally:
        await engine.dispose()
