"""Bulk writes under contention: overlapping calls, and bulk against single writes, all
finish; none loses an update or leaks a deadlock."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.conftest import Api
from tests.dbtools import fetch_all
from tests.graphql.bulkdata import new_orders, new_products, versions
from tests.graphql.mutations import BULK_UPDATE_ORDER_STATUS, BULK_UPDATE_PRODUCTS, PLACE_ORDER
from tests.helpers import gid


async def test_overlapping_bulk_updates_in_opposite_orders_both_finish(wapi: Api) -> None:
    ids = await new_products(wapi.url, 300)
    before = await versions(wapi.url, "products", ids)
    # Every call sends the ids in another order; each locks them in id order all the same.
    orders = [ids, ids[::-1], ids[150:] + ids[:150], ids[::2] + ids[1::2]]

    async def bump(order: list[uuid.UUID]) -> Any:
        items = [{"id": gid("Product", i), "name": f"n{n}"} for n, i in enumerate(order)]
        return await wapi.query(BULK_UPDATE_PRODUCTS, {"items": items, "policy": "IGNORE_FAILED"})

    bodies = await asyncio.gather(*(bump(order) for order in orders))
    assert all("errors" not in body for body in bodies), bodies
    assert [body["data"]["bulkUpdateProducts"]["count"] for body in bodies] == [300] * 4
    assert await versions(wapi.url, "products", ids) == {i: before[i] + 4 for i in ids}


async def test_bulk_cancels_and_new_orders_for_the_same_products_all_finish(wapi: Api) -> None:
    products = await new_products(wapi.url, 20, stock=100)
    placed = [order.id for order in await new_orders(wapi.url, products * 3, quantity=1)]

    async def cancel(ids: list[uuid.UUID]) -> Any:
        return await wapi.query(
            BULK_UPDATE_ORDER_STATUS,
            {
                "ids": [gid("Order", i) for i in ids],
                "status": "CANCELLED",
                "policy": "REJECT_FAILED_ROWS",
            },
        )

    async def buy(product_id: uuid.UUID) -> Any:
        return await wapi.query(
            PLACE_ORDER,
            {
                "input": {
                    "items": [{"productId": gid("Product", product_id), "quantity": 1}],
                    "idempotencyKey": uuid.uuid4().hex,
                }
            },
        )

    bodies = await asyncio.gather(
        cancel(placed[:40]),
        cancel(placed[20:][::-1]),
        *(buy(p) for p in products[::-1]),
    )
    assert all("errors" not in body for body in bodies), bodies
    cancelled = [body["data"]["bulkUpdateOrderStatus"] for body in bodies[:2]]
    # The overlap is cancelled by one call; the other finds it CANCELLED already.
    assert cancelled[0]["count"] + cancelled[1]["count"] == 60
    assert {e["code"] for c in cancelled for e in c["errors"]} <= {"INVALID_TRANSITION"}
    stocks = await fetch_all(
        wapi.url, "SELECT stock FROM products WHERE id = ANY(:ids)", ids=products
    )
    assert {row.stock for row in stocks} == {99}  # every unit back, one sold since
