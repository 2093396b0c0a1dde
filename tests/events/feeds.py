"""Documents and helpers the subscription tests share: products, stock, orders."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.api_tokens import token_hash
from tests.conftest import token_for
from tests.dbtools import fetch_all, fetch_value
from tests.events.conftest import Cluster
from tests.graphql.mutations import PLACE_ORDER, UPDATE_PRODUCT
from tests.helpers import gid

PRODUCT_EVENTS = """subscription($after: String, $filter: ProductEventFilter) {
  productEvents(after: $after, filter: $filter) {
    cursor type changedFields node { id stock version } } }"""
ORDER_EVENTS = """subscription($after: String) {
  orderEvents(after: $after) { cursor type changedFields node { id status user { id } } } }"""


async def expiring_token(cluster: Cluster, email: str, *, seconds: int = 3) -> str:
    """A fresh API token for `email` that expires `seconds` from now."""
    token = await token_for(cluster.url, email)
    engine = create_async_engine(cluster.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE api_tokens SET expires_at = now() + :s * interval '1 second' "
                    "WHERE token_hash = :h"
                ),
                {"s": seconds, "h": token_hash(token)},
            )
    finally:
        await engine.dispose()
    return token


async def a_product(cluster: Cluster, offset: int = 0) -> Any:
    rows = await fetch_all(
        cluster.url, "SELECT id FROM products ORDER BY sku OFFSET :o LIMIT 1", o=offset
    )
    return rows[0].id


async def set_stock(cluster: Cluster, product_id: uuid.UUID, stock: int) -> None:
    """Set the stock, again with the new version if an order left over from an earlier
    test on the shared cluster moved it in between (CONFLICT)."""
    for _ in range(10):
        version = await fetch_value(
            cluster.url, "SELECT version FROM products WHERE id = :i", i=product_id
        )
        data = await cluster.call(
            cluster.a,
            cluster.admin,
            UPDATE_PRODUCT,
            input={"id": gid("Product", product_id), "expectedVersion": version, "stock": stock},
        )
        errors = data["updateProduct"]["errors"]
        if not errors:
            return
        assert [error["code"] for error in errors] == ["CONFLICT"], errors
    raise AssertionError(f"the stock of {product_id} kept changing under the test")


async def flood(
    cluster: Cluster, product_id: uuid.UUID, *, version: int, count: int, size: int
) -> None:
    """`count` changes to one product, each carrying a `size`-character description: big
    events, to fill a subscriber's socket and then its queue."""
    for index in range(count):
        await cluster.call(
            cluster.a,
            cluster.admin,
            UPDATE_PRODUCT,
            input={
                "id": gid("Product", product_id),
                "expectedVersion": version + index,
                "stock": index,
                "description": "x" * size,
            },
        )


async def place(cluster: Cluster, token: str, product_id: uuid.UUID, quantity: int = 1) -> Any:
    data = await cluster.call(
        cluster.a,
        token,
        PLACE_ORDER,
        input={
            "items": [{"productId": gid("Product", product_id), "quantity": quantity}],
            "idempotencyKey": uuid.uuid4().hex,
        },
    )
    return data["placeOrder"]


@dataclass
class Orders:
    """What a steady stream of orders has placed so far."""

    placed: int = 0


@contextlib.asynccontextmanager
async def steady_orders(
    cluster: Cluster, token: str, product_id: uuid.UUID, *, every: float = 0.1, workers: int = 2
) -> AsyncIterator[Orders]:
    """Orders placed on server a by `token`'s user, by `workers` placing one each every
    `every` seconds, until the block ends: a busy feed for order subscribers."""
    orders = Orders()

    async def run() -> None:
        while True:
            await place(cluster, token, product_id)
            orders.placed += 1
            await asyncio.sleep(every)

    tasks = [asyncio.create_task(run()) for _ in range(workers)]
    try:
        yield orders
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
