"""The audit trail: append-only, filterable by admins, and `history` for readers."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import Api
from tests.dbtools import fetch_one, fetch_value
from tests.graphql.mutations import CREATE_PRODUCT, PLACE_ORDER, UPDATE_PRODUCT
from tests.helpers import gid, pk

NEW_PRODUCT = {"sku": "A-1", "name": "A", "price": "1"}
AUDIT = """query($filter: AuditEventFilter, $first: Int) {
  auditEvents(filter: $filter, first: $first) {
    totalCount
    edges { node { action entityType entityId changes requestId clientAddress userAgent
                   actor { id } actorKind occurredAt } } } }"""


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"],
)
async def test_the_database_refuses_to_rewrite_history(wapi: Api, statement: str) -> None:
    await wapi.data(CREATE_PRODUCT, {"input": {"sku": "A-1", "name": "A", "price": "1"}})
    count = await fetch_value(wapi.url, "SELECT count(*) FROM audit_events")
    engine = create_async_engine(wapi.url)
    try:
        async with engine.begin() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
    assert await fetch_value(wapi.url, "SELECT count(*) FROM audit_events") == count


async def test_events_record_who_what_when_and_from_where(wapi: Api) -> None:
    response = await wapi.client.post(
        "/graphql",
        json={"query": CREATE_PRODUCT, "variables": {"input": NEW_PRODUCT}},
        headers={**wapi.headers, "x-request-id": "req-77", "user-agent": "tests/1.0"},
    )
    assert response.status_code == 200
    events = (await wapi.data(AUDIT, {"filter": {"action": "product.created"}}))["auditEvents"]
    [event] = [edge["node"] for edge in events["edges"]]
    admin = await fetch_value(wapi.url, "SELECT id FROM users WHERE email = 'admin@example.com'")
    assert event["actor"] == {"id": gid("User", admin)}
    assert event["actorKind"] == "user"
    assert event["requestId"] == "req-77"
    assert event["userAgent"] == "tests/1.0"
    assert event["clientAddress"]
    assert event["changes"]["sku"] == {"before": None, "after": "A-1"}
    assert event["changes"]["price"] == {"before": None, "after": "1.00"}


async def test_audit_filters(wapi: Api) -> None:
    created = (
        await wapi.data(CREATE_PRODUCT, {"input": {"sku": "A-1", "name": "A", "price": "1"}})
    )["createProduct"]["product"]
    await wapi.data(
        UPDATE_PRODUCT, {"input": {"id": created["id"], "expectedVersion": 1, "name": "B"}}
    )
    by_entity = (await wapi.data(AUDIT, {"filter": {"entityId": created["id"]}}))["auditEvents"]
    assert [e["node"]["action"] for e in by_entity["edges"]] == [
        "product.updated",
        "product.created",
    ]
    assert by_entity["edges"][0]["node"]["changes"] == {"name": {"before": "A", "after": "B"}}
    admin = await fetch_value(wapi.url, "SELECT id FROM users WHERE email = 'admin@example.com'")
    by_actor = await wapi.data(AUDIT, {"filter": {"actorId": gid("User", admin)}})
    assert by_actor["auditEvents"]["totalCount"] >= 2
    occurred = await fetch_value(
        wapi.url, "SELECT occurred_at FROM audit_events WHERE action = 'product.updated'"
    )
    after = (await wapi.data(AUDIT, {"filter": {"after": occurred.isoformat()}}))["auditEvents"]
    assert [e["node"]["action"] for e in after["edges"]] == ["product.updated"]
    before = await wapi.data(AUDIT, {"filter": {"before": occurred.isoformat()}})
    assert "product.updated" not in [e["node"]["action"] for e in before["auditEvents"]["edges"]]


async def test_only_admins_read_the_whole_trail(wapi: Api) -> None:
    user = await wapi.as_user("user000001@example.com")
    assert (await user.error(AUDIT))["extensions"]["code"] == "FORBIDDEN"


async def test_owners_read_their_orders_history(wapi: Api) -> None:
    me = await wapi.as_user("user000001@example.com")
    product = await fetch_one(wapi.url, "SELECT id FROM products WHERE stock > 0 LIMIT 1")
    order = (
        await me.data(
            PLACE_ORDER,
            {
                "input": {
                    "items": [{"productId": gid("Product", product.id), "quantity": 1}],
                    "idempotencyKey": "h1",
                }
            },
        )
    )["placeOrder"]["order"]
    query = """query($id: ID!) { order(id: $id) { history { totalCount
        edges { node { action changes clientAddress } } } } }"""
    history = (await me.data(query, {"id": order["id"]}))["order"]["history"]
    assert history["totalCount"] == 1
    node = history["edges"][0]["node"]
    assert node["action"] == "order.placed"
    assert node["changes"]["status"] == {"before": None, "after": "pending"}
    assert node["clientAddress"] is None  # admins only
    other = await wapi.as_user("user000002@example.com")
    assert (await other.data(query, {"id": order["id"]}))["order"] is None


async def test_product_history_is_public_like_the_product(wapi: Api) -> None:
    created = (
        await wapi.data(CREATE_PRODUCT, {"input": {"sku": "A-1", "name": "A", "price": "1"}})
    )["createProduct"]["product"]
    query = """query($id: ID!) { product(id: $id) { history { edges { node { action
        actor { id } } } } } }"""
    history = (await wapi.as_(None).data(query, {"id": created["id"]}))["product"]["history"]
    assert [e["node"]["action"] for e in history["edges"]] == ["product.created"]
    assert history["edges"][0]["node"]["actor"] is None  # who did it is not public


async def test_stock_movements_and_request_ids_are_not_public(wapi: Api) -> None:
    me = await wapi.as_user("user000001@example.com")
    product = await fetch_one(wapi.url, "SELECT id FROM products WHERE stock > 0 LIMIT 1")
    await me.data(
        PLACE_ORDER,
        {
            "input": {
                "items": [{"productId": gid("Product", product.id), "quantity": 1}],
                "idempotencyKey": "private",
            }
        },
    )
    query = """query($id: ID!) { product(id: $id) { history { edges { node {
        action requestId } } } } }"""
    public = await wapi.as_(None).data(query, {"id": gid("Product", product.id)})
    assert "product.stock_changed" not in [
        e["node"]["action"] for e in public["product"]["history"]["edges"]
    ]
    admin = (await wapi.data(query, {"id": gid("Product", product.id)}))["product"]["history"]
    assert admin["edges"][0]["node"]["action"] == "product.stock_changed"
    assert admin["edges"][0]["node"]["requestId"]


async def test_forged_request_ids_are_replaced(wapi: Api) -> None:
    response = await wapi.client.post(
        "/graphql",
        json={"query": "{ viewer { id } }"},
        headers={**wapi.headers, "x-request-id": "x" * 8000},
    )
    assert len(response.headers["x-request-id"]) == 16


# Newest first: the products made with a history before the seeded ones without.
PRODUCT_HISTORIES = """query($first: Int!) {
  products(first: $first, orderBy: {field: CREATED_AT, direction: DESC}) { edges { node { id
    history(first: 2) { totalCount pageInfo { hasNextPage }
      edges { node { action actor { id } } } } } } } }"""


async def product_histories(wapi: Api, count: int) -> None:
    """`count` new products, each with two events: created, then renamed."""
    for index in range(count):
        product = (
            await wapi.data(
                CREATE_PRODUCT, {"input": {"sku": f"H-{index}", "name": "H", "price": "1"}}
            )
        )["createProduct"]["product"]
        await wapi.data(
            UPDATE_PRODUCT, {"input": {"id": product["id"], "expectedVersion": 1, "name": "I"}}
        )


@pytest.mark.parametrize("first", [5, 50])
async def test_history_of_every_product_on_a_page_takes_the_same_statements(
    wapi: Api, first: int
) -> None:
    await product_histories(wapi, 50)
    data = await wapi.counted(PRODUCT_HISTORIES, {"first": first})

    edges = data["products"]["edges"]
    assert len(edges) == first
    admin = await fetch_value(wapi.url, "SELECT id FROM users WHERE email = 'admin@example.com'")
    counts = await fetch_value(
        wapi.url,
        "SELECT coalesce(jsonb_object_agg(entity_id, n), '{}') FROM "
        "(SELECT entity_id, count(*) AS n FROM audit_events GROUP BY entity_id) c",
    )
    for edge in edges:
        history = edge["node"]["history"]
        expected = counts.get(str(pk(edge["node"]["id"])), 0)
        assert history["totalCount"] == expected
        assert history["pageInfo"]["hasNextPage"] is (expected > 2)
        assert expected == 2
        assert len(history["edges"]) == 2
        assert all(e["node"]["actor"] == {"id": gid("User", admin)} for e in history["edges"])
    # products page, every history page, every history count, the actors
    assert len(wapi.statements.statements) == 4, wapi.statements.statements


async def test_history_pages_are_each_objects_newest_first(wapi: Api) -> None:
    await product_histories(wapi, 3)
    data = await wapi.data(PRODUCT_HISTORIES, {"first": 50})
    renamed = [
        [e["node"]["action"] for e in edge["node"]["history"]["edges"]]
        for edge in data["products"]["edges"]
    ][:3]
    assert renamed == [["product.updated", "product.created"]] * 3
