"""Writes under contention: no overselling, no lost updates."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.conftest import Api
from tests.dbtools import fetch_one, fetch_value
from tests.graphql.mutations import PLACE_ORDER, UPDATE_PRODUCT
from tests.helpers import gid

PRODUCT = "query($id: ID!) { product(id: $id) { stock version } }"


async def a_product(api: Api) -> Any:
    return await fetch_one(api.url, "SELECT id, stock, version FROM products ORDER BY sku LIMIT 1")


async def test_twenty_buyers_for_the_last_five_units_buy_exactly_five(wapi: Api) -> None:
    row = await a_product(wapi)
    product_id = gid("Product", row.id)
    await wapi.data(
        UPDATE_PRODUCT, {"input": {"id": product_id, "expectedVersion": row.version, "stock": 5}}
    )

    async def buy() -> dict[str, Any]:
        variables = {
            "input": {
                "items": [{"productId": product_id, "quantity": 1}],
                "idempotencyKey": uuid.uuid4().hex,
            }
        }
        payload: dict[str, Any] = (await wapi.data(PLACE_ORDER, variables))["placeOrder"]
        return payload

    results = await asyncio.gather(*(buy() for _ in range(20)))
    sold = [r for r in results if r["order"] is not None]
    refused = [r for r in results if r["order"] is None]
    assert len(sold) == 5
    assert len(refused) == 15
    assert {e["code"] for r in refused for e in r["errors"]} == {"OUT_OF_STOCK"}
    assert await fetch_value(wapi.url, "SELECT stock FROM products WHERE id = :i", i=row.id) == 0
    assert (
        await fetch_value(
            wapi.url,
            "SELECT coalesce(sum(quantity), 0) FROM order_items WHERE product_id = :i "
            "AND order_id IN (SELECT entity_id FROM audit_events WHERE action = 'order.placed')",
            i=row.id,
        )
        == 5
    )


async def test_fifty_concurrent_versioned_updates_lose_none(wapi: Api) -> None:
    row = await a_product(wapi)
    product_id = gid("Product", row.id)
    conflicts = 0

    async def add_one() -> None:
        nonlocal conflicts
        while True:
            current = (await wapi.data(PRODUCT, {"id": product_id}))["product"]
            body = await wapi.query(
                UPDATE_PRODUCT,
                {
                    "input": {
                        "id": product_id,
                        "expectedVersion": current["version"],
                        "stock": current["stock"] + 1,
                    }
                },
            )
            if "errors" not in body:
                return
            assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body
            conflicts += 1

    await asyncio.gather(*(add_one() for _ in range(50)))
    final = await fetch_one(wapi.url, "SELECT stock, version FROM products WHERE id = :i", i=row.id)
    assert final.stock == row.stock + 50
    assert final.version == row.version + 50
    assert conflicts > 0, "the updates should have raced"


async def test_concurrent_orders_with_one_idempotency_key_make_one_order(wapi: Api) -> None:
    row = await a_product(wapi)
    product_id = gid("Product", row.id)
    await wapi.data(
        UPDATE_PRODUCT, {"input": {"id": product_id, "expectedVersion": row.version, "stock": 50}}
    )
    key = uuid.uuid4().hex

    async def place(quantity: int) -> dict[str, Any]:
        variables = {
            "input": {
                "items": [{"productId": product_id, "quantity": quantity}],
                "idempotencyKey": key,
            }
        }
        payload: dict[str, Any] = (await wapi.data(PLACE_ORDER, variables))["placeOrder"]
        return payload

    same = await asyncio.gather(*(place(3) for _ in range(10)))
    assert all(r["errors"] == [] for r in same), same
    assert len({r["order"]["id"] for r in same}) == 1
    other = await place(4)
    assert other["order"] is None
    assert [e["code"] for e in other["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    stock = await fetch_value(wapi.url, "SELECT stock FROM products WHERE id = :i", i=row.id)
    assert stock == 50 - 3
    placed = await fetch_value(
        wapi.url,
        "SELECT count(*) FROM order_requests WHERE idempotency_key = :k",
        k=key,
    )
    assert placed == 1
    audited = await fetch_value(
        wapi.url, "SELECT count(*) FROM audit_events WHERE action = 'order.placed'"
    )
    assert audited == 1


async def test_a_user_and_an_admin_ordering_for_them_with_one_key_make_one_order(
    wapi: Api,
) -> None:
    """Both lock the user's row and the key's advisory lock; in opposite orders (the
    user's actor check first, the admin's key first) PostgreSQL aborted one of them for
    a deadlock, which reached the client as INTERNAL (as TRY_AGAIN without retries)."""
    row = await a_product(wapi)
    product_id = gid("Product", row.id)
    await wapi.data(
        UPDATE_PRODUCT, {"input": {"id": product_id, "expectedVersion": row.version, "stock": 50}}
    )
    user = await fetch_one(
        wapi.url, "SELECT id, email FROM users WHERE role = 'user' ORDER BY email LIMIT 1"
    )
    me = await wapi.as_user(user.email)

    async def place(api: Api, key: str, for_user: bool) -> Any:
        line = [{"productId": product_id, "quantity": 1}]
        owner = {"userId": gid("User", user.id)} if for_user else {}
        body = await api.query(
            PLACE_ORDER, {"input": {"items": line, "idempotencyKey": key, **owner}}
        )
        assert "errors" not in body, body["errors"]
        return body["data"]["placeOrder"]["order"]["id"]

    keys = [uuid.uuid4().hex for _ in range(10)]
    pairs = await asyncio.gather(
        *(asyncio.gather(place(me, key, False), place(wapi, key, True)) for key in keys)
    )
    assert all(mine == theirs for mine, theirs in pairs)
    stock = await fetch_value(wapi.url, "SELECT stock FROM products WHERE id = :i", i=row.id)
    assert stock == 50 - len(keys)
