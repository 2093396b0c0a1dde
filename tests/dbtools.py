"""Reading the database directly in tests, to check what a request really did."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def fetch_all(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def fetch_one(url: str, sql: str, **params: Any) -> Any:
    rows = await fetch_all(url, sql, **params)
    assert len(rows) == 1, rows
    return rows[0]


async def fetch_value(url: str, sql: str, **params: Any) -> Any:
    return (await fetch_one(url, sql, **params))[0]


FINGERPRINT = """
SELECT md5(coalesce(string_agg(t, ',' ORDER BY t), '')) FROM (
  SELECT concat_ws('|', id, email, name, role, version) AS t FROM users
  UNION ALL SELECT concat_ws('|', id, sku, name, price, stock, version) FROM products
  UNION ALL SELECT concat_ws('|', id, user_id, status, total, version) FROM orders
  UNION ALL SELECT concat_ws('|', id, order_id, product_id, quantity, unit_price) FROM order_items
  UNION ALL SELECT concat_ws('|', user_id, idempotency_key) FROM order_requests
  UNION ALL SELECT concat_ws('|', id, action, entity_id) FROM audit_events
) rows
"""


async def fingerprint(url: str) -> str:
    """A digest of every row that a write could touch, audit trail included."""
    value: str = await fetch_value(url, FINGERPRINT)
    return value
