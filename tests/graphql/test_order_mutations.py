"""placeOrder, updateOrderStatus, cancelOrder: stock, prices, idempotency, states."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import Api
from tests.dbtools import fetch_all, fetch_value, fingerprint
from tests.graphql.mutations import (
    CANCEL_ORDER,
    CREATE_PRODUCT,
    PLACE_ORDER,
    UPDATE_ORDER_STATUS,
    UPDATE_PRODUCT,
)
from tests.helpers import gid, pk

USER = "user000001@example.com"


async def stocked(api: Api, count: int = 2) -> list[Any]:
    return await fetch_all(
        api.url,
        "SELECT id, price, stock FROM products WHERE stock >= 10 ORDER BY sku LIMIT :n",
        n=count,
    )


async def stock_of(api: Api, product_id: uuid.UUID) -> int:
    stock: int = await fetch_value(
        api.url, "SELECT stock FROM products WHERE id = :i", i=product_id
    )
    return stock


def order_input(products: list[Any], quantities: list[int], key: str | None = None) -> Any:
    return {
        "input": {
            "items": [
                {"productId": gid("Product", p.id), "quantity": q}
                for p, q in zip(products, quantities, strict=True)
            ],
            "idempotencyKey": key or uuid.uuid4().hex,
        }
    }


async def place(
    api: Api, products: list[Any], quantities: list[int], key: str | None = None
) -> Any:
    return (await api.data(PLACE_ORDER, order_input(products, quantities, key)))["placeOrder"]


async def test_place_order_takes_stock_snapshots_prices_and_totals(wapi: Api) -> None:
    products = await stocked(wapi)
    me = await wapi.as_user(USER)
    payload = await place(me, products, [2, 3])
    assert payload["errors"] == []
    order = payload["order"]
    assert order["status"] == "PENDING"
    assert Decimal(order["total"]) == products[0].price * 2 + products[1].price * 3
    assert [i["unitPrice"] for i in order["items"]] == [f"{p.price:.2f}" for p in products]
    assert [i["product"]["stock"] for i in order["items"]] == [
        products[0].stock - 2,
        products[1].stock - 3,
    ]
    owner = await fetch_value(wapi.url, "SELECT id FROM users WHERE email = :e", e=USER)
    assert pk(order["user"]["id"]) == owner
    actions = await fetch_all(
        wapi.url,
        "SELECT action, actor_id FROM audit_events WHERE request_id IS NOT NULL "
        "AND (entity_id = :o OR action = 'product.stock_changed') ORDER BY occurred_at",
        o=pk(order["id"]),
    )
    assert [a.action for a in actions] == [
        "order.placed",
        "product.stock_changed",
        "product.stock_changed",
    ]
    assert {a.actor_id for a in actions} == {owner}


async def test_prices_are_snapshots(wapi: Api) -> None:
    products = await stocked(wapi, 1)
    order = (await place(wapi, products, [1]))["order"]
    version = await fetch_value(
        wapi.url, "SELECT version FROM products WHERE id = :i", i=products[0].id
    )
    await wapi.data(
        UPDATE_PRODUCT,
        {
            "input": {
                "id": gid("Product", products[0].id),
                "expectedVersion": version,
                "price": "999",
            }
        },
    )
    unit_price = await fetch_value(
        wapi.url, "SELECT unit_price FROM order_items WHERE order_id = :o", o=pk(order["id"])
    )
    assert unit_price == products[0].price


@pytest.mark.parametrize(
    ("quantities", "field", "code"),
    [
        ([0], "items.0.quantity", "TOO_SMALL"),
        ([1001], "items.0.quantity", "TOO_LARGE"),
        ([1, 100_000], "items.1.quantity", "TOO_LARGE"),
    ],
)
async def test_quantities_are_checked(
    wapi: Api, quantities: list[int], field: str, code: str
) -> None:
    products = await stocked(wapi, len(quantities))
    payload = await place(wapi, products, quantities)
    assert payload["order"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]


async def test_out_of_stock_line_fails_the_whole_order(wapi: Api) -> None:
    products = await stocked(wapi)
    before = await fingerprint(wapi.url)
    payload = await place(wapi, products, [1, products[1].stock + 1])
    assert payload["order"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("items.1.quantity", "OUT_OF_STOCK")
    ]
    assert f"Only {products[1].stock} left" in payload["errors"][0]["message"]
    assert await fingerprint(wapi.url) == before


async def test_unknown_and_repeated_products(wapi: Api) -> None:
    products = await stocked(wapi, 1)
    ghost = type("P", (), {"id": uuid.uuid4()})()
    payload = await place(wapi, [products[0], ghost], [1, 1])
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("items.1.productId", "UNKNOWN_PRODUCT")
    ]
    payload = await place(wapi, [products[0], products[0]], [1, 1])
    assert [e["code"] for e in payload["errors"]] == ["DUPLICATE_PRODUCT"]


async def test_at_most_100_lines(wapi: Api) -> None:
    products = await stocked(wapi, 1)
    payload = await place(wapi, products * 101, [1] * 101)
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("items", "TOO_MANY")]


async def test_no_lines_is_a_field_error(wapi: Api) -> None:
    payload = await place(wapi, [], [])
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("items", "TOO_FEW")]


async def test_retry_with_the_same_key_returns_the_first_order(wapi: Api) -> None:
    products = await stocked(wapi)
    first = await place(wapi, products, [1, 1], key="checkout-42")
    again = await place(wapi, products, [1, 1], key="checkout-42")
    assert again["order"]["id"] == first["order"]["id"]
    stock = await stock_of(wapi, products[0].id)
    assert stock == products[0].stock - 1
    assert (
        await fetch_value(
            wapi.url, "SELECT count(*) FROM audit_events WHERE action = 'order.placed'"
        )
        == 1
    )


async def test_same_key_for_a_different_order_is_refused(wapi: Api) -> None:
    products = await stocked(wapi)
    await place(wapi, products, [1, 1], key="k")
    payload = await place(wapi, products, [2, 1], key="k")
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")
    ]


async def test_users_order_for_themselves_admins_for_anyone(wapi: Api) -> None:
    products = await stocked(wapi, 1)
    other = await fetch_value(
        wapi.url, "SELECT id FROM users WHERE email = 'user000002@example.com'"
    )
    variables = order_input(products, [1])
    variables["input"]["userId"] = gid("User", other)
    me = await wapi.as_user(USER)
    assert (await me.error(PLACE_ORDER, variables))["extensions"]["code"] == "FORBIDDEN"
    order = (await wapi.data(PLACE_ORDER, variables))["placeOrder"]["order"]
    assert pk(order["user"]["id"]) == other
    anonymous = wapi.as_(None)
    assert (await anonymous.error(PLACE_ORDER, order_input(products, [1])))["extensions"][
        "code"
    ] == "UNAUTHENTICATED"


async def move(api: Api, order: dict[str, Any], status: str) -> dict[str, Any]:
    result: dict[str, Any] = (
        await api.data(
            UPDATE_ORDER_STATUS,
            {"input": {"id": order["id"], "status": status, "expectedVersion": order["version"]}},
        )
    )["updateOrderStatus"]
    return result


async def test_state_machine_happy_path(wapi: Api) -> None:
    order = (await place(wapi, await stocked(wapi, 1), [1]))["order"]
    for status in ("PAID", "SHIPPED", "DELIVERED"):
        payload = await move(wapi, order, status)
        assert payload["errors"] == []
        order = payload["order"]
        assert order["status"] == status
    history = await fetch_all(
        wapi.url,
        "SELECT changes FROM audit_events WHERE entity_id = :o "
        "AND action = 'order.status_changed' ORDER BY occurred_at",
        o=pk(order["id"]),
    )
    assert [h.changes["status"]["after"] for h in history] == ["paid", "shipped", "delivered"]


@pytest.mark.parametrize(
    ("path", "bad"), [([], "SHIPPED"), (["PAID", "SHIPPED"], "CANCELLED"), ([], "PENDING")]
)
async def test_state_machine_refuses_other_moves(wapi: Api, path: list[str], bad: str) -> None:
    order = (await place(wapi, await stocked(wapi, 1), [1]))["order"]
    for status in path:
        order = (await move(wapi, order, status))["order"]
    payload = await move(wapi, order, bad)
    assert payload["order"] is None
    assert [e["code"] for e in payload["errors"]] == ["INVALID_TRANSITION"]


async def test_cancelling_a_paid_order_restocks(wapi: Api) -> None:
    products = await stocked(wapi)
    order = (await place(wapi, products, [2, 3]))["order"]
    order = (await move(wapi, order, "PAID"))["order"]
    assert (await move(wapi, order, "CANCELLED"))["order"]["status"] == "CANCELLED"
    stocks = await fetch_all(
        wapi.url,
        "SELECT stock FROM products WHERE id = ANY(:ids) ORDER BY sku",
        ids=[p.id for p in products],
    )
    assert [s.stock for s in stocks] == [p.stock for p in products]


async def test_only_admins_move_orders(wapi: Api) -> None:
    me = await wapi.as_user(USER)
    order = (await place(me, await stocked(wapi, 1), [1]))["order"]
    error = await me.error(
        UPDATE_ORDER_STATUS,
        {"input": {"id": order["id"], "status": "PAID", "expectedVersion": order["version"]}},
    )
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_owner_cancels_a_pending_order_and_gets_stock_back(wapi: Api) -> None:
    products = await stocked(wapi, 1)
    me = await wapi.as_user(USER)
    order = (await place(me, products, [4]))["order"]
    payload = (
        await me.data(
            CANCEL_ORDER, {"input": {"id": order["id"], "expectedVersion": order["version"]}}
        )
    )["cancelOrder"]
    assert payload["order"]["status"] == "CANCELLED"
    stock = await stock_of(wapi, products[0].id)
    assert stock == products[0].stock


async def test_owner_cannot_cancel_a_paid_order(wapi: Api) -> None:
    me = await wapi.as_user(USER)
    order = (await place(me, await stocked(wapi, 1), [1]))["order"]
    order = (await move(wapi, order, "PAID"))["order"]
    payload = (
        await me.data(
            CANCEL_ORDER, {"input": {"id": order["id"], "expectedVersion": order["version"]}}
        )
    )["cancelOrder"]
    assert [e["code"] for e in payload["errors"]] == ["INVALID_TRANSITION"]


async def test_nobody_cancels_someone_elses_order(wapi: Api) -> None:
    order = (await place(wapi, await stocked(wapi, 1), [1]))["order"]
    me = await wapi.as_user(USER)
    error = await me.error(
        CANCEL_ORDER, {"input": {"id": order["id"], "expectedVersion": order["version"]}}
    )
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_stale_order_version_is_a_conflict(wapi: Api) -> None:
    order = (await place(wapi, await stocked(wapi, 1), [1]))["order"]
    await move(wapi, order, "PAID")
    error = await wapi.error(
        UPDATE_ORDER_STATUS,
        {"input": {"id": order["id"], "status": "CANCELLED", "expectedVersion": order["version"]}},
    )
    assert error["extensions"]["code"] == "CONFLICT"
    status = await fetch_value(
        wapi.url, "SELECT status FROM orders WHERE id = :o", o=pk(order["id"])
    )
    assert status == "paid"


async def test_a_total_beyond_what_money_holds_is_a_field_error(wapi: Api) -> None:
    product = (
        await wapi.data(
            CREATE_PRODUCT,
            {"input": {"sku": "BIG-1", "name": "Big", "price": "99999999.99", "stock": 100000}},
        )
    )["createProduct"]["product"]
    payload = (
        await wapi.data(
            PLACE_ORDER,
            {
                "input": {
                    "items": [{"productId": product["id"], "quantity": 101}],
                    "idempotencyKey": "big",
                }
            },
        )
    )["placeOrder"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("items", "TOTAL_TOO_LARGE")]
