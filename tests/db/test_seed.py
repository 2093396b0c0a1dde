"""The seed: the same arguments make the same data; it never mixes with existing data."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import DatabaseNotEmpty, SeedSpec, seed
from tests import postgres

SPEC = SeedSpec(users=15, orders_per_user=3, items_per_order=2, products=10, seed=42)
FINGERPRINT = """
SELECT md5(string_agg(t, ',' ORDER BY t)) FROM (
  SELECT concat_ws('|', id, email, name, role, created_at) AS t FROM users
  UNION ALL SELECT concat_ws('|', id, sku, name, price, stock) FROM products
  UNION ALL SELECT concat_ws('|', id, user_id, status, total, created_at) FROM orders
  UNION ALL SELECT concat_ws('|', id, order_id, product_id, quantity, unit_price) FROM order_items
) rows
"""


async def seeded_fingerprint(url: str, spec: SeedSpec) -> tuple[str, int]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await seed(conn, spec, truncate=True)
        async with engine.connect() as conn:
            fingerprint = (await conn.execute(text(FINGERPRINT))).scalar_one()
            items = (await conn.execute(text("SELECT count(*) FROM order_items"))).scalar_one()
            bad_totals = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM orders o WHERE total <> (SELECT sum(quantity * "
                        "unit_price) FROM order_items WHERE order_id = o.id)"
                    )
                )
            ).scalar_one()
        assert bad_totals == 0
        return fingerprint, items
    finally:
        await engine.dispose()


async def test_same_arguments_make_the_same_data(
    server_url: str, template_db: str, empty_url: str
) -> None:
    name = postgres.unique_name("seed")
    other = await postgres.create_database(server_url, name, template=template_db)
    try:
        first = await seeded_fingerprint(empty_url, SPEC)
        second = await seeded_fingerprint(other, SPEC)
        different = await seeded_fingerprint(other, dataclasses.replace(SPEC, seed=43))
    finally:
        await postgres.drop_database(server_url, name)
    assert first == second
    assert first[1] == (15 + 1) * 3 * 2  # the admin places orders too
    assert different[0] != first[0]


async def test_seed_refuses_a_database_with_data(empty_url: str) -> None:
    engine = create_async_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SPEC)
        with pytest.raises(DatabaseNotEmpty):
            async with engine.begin() as conn:
                await seed(conn, SPEC)
    finally:
        await engine.dispose()


def test_seed_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="items-per-order"):
        SeedSpec(items_per_order=5, products=3).check()
