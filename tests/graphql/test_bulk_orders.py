"""bulkUpdateOrderStatus: the state machine per order, restocking, batching, rights."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Api
from tests.dbtools import fetch_all, fingerprint
from tests.graphql.bulkdata import count_of, events_of, new_orders, new_products, versions
from tests.graphql.mutations import BULK_UPDATE_ORDER_STATUS
from tests.helpers import gid, pk

USER = "user000001@example.com"


async def move(api: Api, ids: list[uuid.UUID], status: str, policy: str) -> Any:
    data = await api.data(
        BULK_UPDATE_ORDER_STATUS,
        {"ids": [gid("Order", i) for i in ids], "status": status, "policy": policy},
    )
    payload: Any = data["bulkUpdateOrderStatus"]
    return payload


async def pending(api: Api, count: int, *, quantity: int = 1) -> list[uuid.UUID]:
    products = await new_products(api.url, count)
    return [order.id for order in await new_orders(api.url, products, quantity=quantity)]


async def test_orders_move_together_with_an_audit_record_and_event_each(wapi: Api) -> None:
    ids = await pending(wapi, 3)
    before = await versions(wapi.url, "orders", ids)
    payload = await move(wapi, ids, "PAID", "REJECT_EVERYTHING")
    assert (payload["count"], payload["errors"]) == (3, [])
    assert [pk(o["id"]) for o in payload["orders"]] == ids
    assert {o["status"] for o in payload["orders"]} == {"PAID"}
    assert await versions(wapi.url, "orders", ids) == {i: before[i] + 1 for i in ids}
    audit = await fetch_all(
        wapi.url,
        "SELECT entity_id, changes FROM audit_events WHERE action = 'order.status_changed'",
    )
    assert {row.entity_id: row.changes for row in audit} == {
        i: {"status": {"before": "pending", "after": "paid"}} for i in ids
    }
    events = await events_of(wapi.url, "STATUS_CHANGED", ids)
    assert [e.entity_id for e in events] == ids
    assert {e.data["status"] for e in events} == {"paid"}


@pytest.mark.parametrize(
    ("policy", "moved"),
    [("REJECT_EVERYTHING", 0), ("REJECT_FAILED_ROWS", 2), ("IGNORE_FAILED", 2)],
)
async def test_the_state_machine_holds_per_order(wapi: Api, policy: str, moved: int) -> None:
    ids = await pending(wapi, 3)
    await move(wapi, [ids[1]], "CANCELLED", "REJECT_EVERYTHING")
    before = await fingerprint(wapi.url)
    missing = uuid.uuid4()
    payload = await move(wapi, [ids[0], ids[1], missing, ids[2]], "PAID", policy)
    assert (payload["count"], payload["failedCount"]) == (moved, 2)
    errors = payload["errors"]
    if policy == "IGNORE_FAILED":
        assert errors == []
    else:
        assert [(e["index"], e["id"], e["field"], e["code"]) for e in errors] == [
            (1, gid("Order", ids[1]), "status", "INVALID_TRANSITION"),
            (2, gid("Order", missing), "id", "NOT_FOUND"),
        ]
        assert "CANCELLED can move to nothing" in errors[0]["message"]
    statuses = await fetch_all(
        wapi.url, "SELECT id, status FROM orders WHERE id = ANY(:ids)", ids=ids
    )
    expected = "pending" if moved == 0 else "paid"
    assert {row.id: row.status for row in statuses} == {
        ids[0]: expected,
        ids[1]: "cancelled",
        ids[2]: expected,
    }
    if moved == 0:
        assert await fingerprint(wapi.url) == before


async def test_cancelling_orders_in_bulk_restocks_each_product_once(wapi: Api) -> None:
    (product,) = await new_products(wapi.url, 1, stock=10)
    orders = await new_orders(wapi.url, [product, product, product], quantity=2)
    ids = [order.id for order in orders]
    await move(wapi, ids[:1], "PAID", "REJECT_EVERYTHING")
    payload = await move(wapi, ids, "CANCELLED", "REJECT_EVERYTHING")
    assert payload["count"] == 3
    assert await count_of(wapi.url, "SELECT stock FROM products WHERE id = :i", i=product) == 10
    restocked = await fetch_all(
        wapi.url,
        "SELECT changes FROM audit_events WHERE action = 'product.stock_changed' "
        "AND entity_id = :i ORDER BY occurred_at",
        i=product,
    )
    assert [row.changes["stock"] for row in restocked][-1] == {"before": 4, "after": 10}
    events = await events_of(wapi.url, "UPDATED", [product])
    assert events[-1].data["stock"] == 10
    assert events[-1].changed_fields == ["stock"]


async def test_statements_do_not_grow_with_the_order_count(wapi: Api) -> None:
    ids = await pending(wapi, 30)
    counts = []
    for status in ("PAID", "CANCELLED"):
        for chunk in (ids[:2], ids[2:30]):
            await wapi.counted(
                BULK_UPDATE_ORDER_STATUS,
                {
                    "ids": [gid("Order", i) for i in chunk],
                    "status": status,
                    "policy": "REJECT_FAILED_ROWS",
                },
            )
            counts.append(len(wapi.statements.statements))
    assert counts[0] == counts[1], wapi.statements.statements
    assert counts[2] == counts[3], wapi.statements.statements


async def test_only_admins_move_orders_in_bulk(wapi: Api) -> None:
    user = await wapi.as_user(USER)
    own = await fetch_all(
        wapi.url,
        "SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email = :e",
        e=USER,
    )
    before = await fingerprint(wapi.url)
    for api, code in ((user, "FORBIDDEN"), (wapi.as_(None), "UNAUTHENTICATED")):
        error = await api.error(
            BULK_UPDATE_ORDER_STATUS,
            {
                "ids": [gid("Order", row.id) for row in own],
                "status": "CANCELLED",
                "policy": "REJECT_FAILED_ROWS",
            },
        )
        assert error["extensions"]["code"] == code
    assert await fingerprint(wapi.url) == before
