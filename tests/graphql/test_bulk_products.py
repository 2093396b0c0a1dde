"""bulkUpdateProducts and bulkDeleteProducts: policies, rules per item, batching."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import SeedSpec, seed
from app.services.bulk import MAX_ITEMS
from tests.conftest import Api, running_app
from tests.dbtools import fetch_all, fingerprint
from tests.graphql.bulkdata import count_of, events_of, new_orders, new_products, versions
from tests.graphql.mutations import BULK_DELETE_PRODUCTS, BULK_UPDATE_PRODUCTS
from tests.helpers import gid, pk
from tests.redis_server import find_redis

USER = "user000001@example.com"


def edit(product_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    return {"id": gid("Product", product_id), **changes}


async def update(api: Api, items: list[dict[str, Any]], policy: str) -> Any:
    data = await api.data(BULK_UPDATE_PRODUCTS, {"items": items, "policy": policy})
    return data["bulkUpdateProducts"]


async def delete(api: Api, ids: list[str], policy: str) -> Any:
    return (await api.data(BULK_DELETE_PRODUCTS, {"ids": ids, "policy": policy}))[
        "bulkDeleteProducts"
    ]


async def test_bulk_update_writes_every_item_with_its_audit_record_and_event(wapi: Api) -> None:
    ids = await new_products(wapi.url, 3)
    before = await versions(wapi.url, "products", ids)
    items = [
        edit(ids[2], price="7.5"),
        edit(ids[0], stock=0, expectedVersion=before[ids[0]]),
        edit(ids[1], name="Renamed"),
    ]
    payload = await update(wapi, items, "REJECT_EVERYTHING")
    assert payload["errors"] == []
    assert (payload["count"], payload["failedCount"]) == (3, 0)
    assert [pk(p["id"]) for p in payload["products"]] == [ids[2], ids[0], ids[1]]  # input order
    assert [p["price"] for p in payload["products"]] == ["7.50", "5.00", "5.00"]
    assert [p["stock"] for p in payload["products"]] == [10, 0, 10]
    assert payload["products"][2]["name"] == "Renamed"
    assert await versions(wapi.url, "products", ids) == {i: before[i] + 1 for i in ids}
    audit = await fetch_all(
        wapi.url,
        "SELECT entity_id, changes FROM audit_events WHERE action = 'product.updated' "
        "AND entity_id = ANY(:ids)",
        ids=ids,
    )
    assert {row.entity_id: row.changes for row in audit} == {
        ids[2]: {"price": {"before": "5.00", "after": "7.50"}},
        ids[0]: {"stock": {"before": 10, "after": 0}},
        ids[1]: {"name": {"before": "Bulk", "after": "Renamed"}},
    }
    events = await events_of(wapi.url, "UPDATED", ids)
    assert [(e.entity_id, e.changed_fields) for e in events] == [
        (ids[2], ["price"]),
        (ids[0], ["stock", "inStock"]),
        (ids[1], ["name"]),
    ]
    assert events[0].data["price"] == "7.50"


async def bad_items(api: Api) -> tuple[list[uuid.UUID], list[dict[str, Any]]]:
    """Two good items around four bad ones: stale version, negative stock, a missing
    product, and an ID of another type."""
    ids = await new_products(api.url, 4)
    before = await versions(api.url, "products", ids)
    user_id = (await fetch_all(api.url, "SELECT id FROM users LIMIT 1"))[0].id
    return ids, [
        edit(ids[0], stock=1),
        edit(ids[1], stock=2, expectedVersion=before[ids[1]] - 1 or 99),
        edit(ids[2], stock=-1),
        edit(uuid.uuid4(), stock=4),
        {"id": gid("User", user_id), "stock": 5},
        edit(ids[3], stock=6, expectedVersion=before[ids[3]]),
    ]


BAD_CODES = [
    (1, "expectedVersion", "CONFLICT"),
    (2, "stock", "TOO_SMALL"),
    (3, "id", "NOT_FOUND"),
    (4, "id", "BAD_USER_INPUT"),
]


async def test_reject_everything_writes_nothing_and_reports_every_bad_item(wapi: Api) -> None:
    _, items = await bad_items(wapi)
    before = await fingerprint(wapi.url)
    payload = await update(wapi, items, "REJECT_EVERYTHING")
    assert (payload["count"], payload["products"], payload["failedCount"]) == (0, [], 4)
    assert [(e["index"], e["field"], e["code"]) for e in payload["errors"]] == BAD_CODES
    assert [e["id"] for e in payload["errors"]] == [items[i]["id"] for i, _, _ in BAD_CODES]
    assert "version" in payload["errors"][0]["message"]
    assert await fingerprint(wapi.url) == before


async def test_reject_failed_rows_writes_the_good_items_and_reports_the_bad(wapi: Api) -> None:
    ids, items = await bad_items(wapi)
    payload = await update(wapi, items, "REJECT_FAILED_ROWS")
    assert (payload["count"], payload["failedCount"]) == (2, 4)
    assert [pk(p["id"]) for p in payload["products"]] == [ids[0], ids[3]]
    assert [(e["index"], e["field"], e["code"]) for e in payload["errors"]] == BAD_CODES
    stocks = await fetch_all(
        wapi.url, "SELECT id, stock FROM products WHERE id = ANY(:ids)", ids=ids
    )
    assert {row.id: row.stock for row in stocks} == {ids[0]: 1, ids[1]: 10, ids[2]: 10, ids[3]: 6}
    assert (
        await count_of(
            wapi.url,
            "SELECT count(*) FROM audit_events WHERE action = 'product.updated' "
            "AND entity_id = ANY(:ids)",
            ids=ids,
        )
        == 2
    )


async def test_ignore_failed_writes_the_good_items_and_only_counts_the_bad(wapi: Api) -> None:
    ids, items = await bad_items(wapi)
    payload = await update(wapi, items, "IGNORE_FAILED")
    assert (payload["count"], payload["failedCount"], payload["errors"]) == (2, 4, [])
    assert [pk(p["id"]) for p in payload["products"]] == [ids[0], ids[3]]


async def test_a_repeated_id_is_an_error_of_its_later_occurrences(wapi: Api) -> None:
    (product_id,) = await new_products(wapi.url, 1)
    items = [edit(product_id, stock=1), edit(product_id, stock=2), edit(product_id, stock=3)]
    payload = await update(wapi, items, "REJECT_FAILED_ROWS")
    assert payload["count"] == 1
    assert payload["products"][0]["stock"] == 1
    assert [(e["index"], e["code"]) for e in payload["errors"]] == [
        (1, "DUPLICATE_ID"),
        (2, "DUPLICATE_ID"),
    ]
    assert "index 0" in payload["errors"][0]["message"]
    refused = await update(wapi, items, "REJECT_EVERYTHING")
    assert refused["count"] == 0


async def test_more_items_than_the_limit_are_refused_naming_it(wapi: Api) -> None:
    (product_id,) = await new_products(wapi.url, 1)
    before = await fingerprint(wapi.url)
    items = [edit(product_id, stock=1)] + [edit(uuid.uuid4(), stock=1) for _ in range(MAX_ITEMS)]
    payload = await update(wapi, items, "REJECT_FAILED_ROWS")
    assert (payload["count"], payload["failedCount"]) == (0, 0)
    assert [(e["index"], e["id"], e["field"], e["code"]) for e in payload["errors"]] == [
        (None, None, "items", "TOO_MANY")
    ]
    assert "10000" in payload["errors"][0]["message"]
    assert await fingerprint(wapi.url) == before


async def test_ten_thousand_products_are_updated_in_one_call(empty_url: str) -> None:
    engine = create_async_engine(empty_url)
    async with engine.begin() as conn:
        await seed(conn, SeedSpec(users=1, orders_per_user=0, products=MAX_ITEMS, seed=1))
    await engine.dispose()
    ids = [row.id for row in await fetch_all(empty_url, "SELECT id FROM products")]
    async with running_app(empty_url) as api:
        started = time.perf_counter()
        payload = await update(api, [edit(i, stock=7) for i in ids], "REJECT_EVERYTHING")
        print(f"bulkUpdateProducts x{MAX_ITEMS}: {time.perf_counter() - started:.2f} s")
        assert len(await events_of(empty_url, "UPDATED", ids)) == MAX_ITEMS
    assert (payload["count"], payload["errors"]) == (MAX_ITEMS, [])
    assert await count_of(empty_url, "SELECT count(*) FROM products WHERE stock = 7") == MAX_ITEMS
    assert (
        await count_of(
            empty_url, "SELECT count(*) FROM audit_events WHERE action = 'product.updated'"
        )
        == MAX_ITEMS
    )


@pytest.mark.parametrize("policy", ["REJECT_EVERYTHING", "REJECT_FAILED_ROWS", "IGNORE_FAILED"])
async def test_statements_do_not_grow_with_the_item_count(wapi: Api, policy: str) -> None:
    ids = await new_products(wapi.url, 42)
    counts = []
    for chunk in (ids[:2], ids[2:42]):
        items = [edit(i, stock=3) for i in chunk] + [edit(uuid.uuid4(), stock=1)]
        await wapi.counted(BULK_UPDATE_PRODUCTS, {"items": items, "policy": policy})
        counts.append(len(wapi.statements.statements))
    assert counts[0] == counts[1], wapi.statements.statements
    for chunk in (ids[:2], ids[2:42]):
        await wapi.counted(
            BULK_DELETE_PRODUCTS, {"ids": [gid("Product", i) for i in chunk], "policy": policy}
        )
        counts.append(len(wapi.statements.statements))
    assert counts[2] == counts[3], wapi.statements.statements


async def test_products_orders_refer_to_are_not_deleted(wapi: Api) -> None:
    ids = await new_products(wapi.url, 3)
    await new_orders(wapi.url, [ids[1]])
    sent = [gid("Product", i) for i in ids]
    before = await fingerprint(wapi.url)
    refused = await delete(wapi, sent, "REJECT_EVERYTHING")
    assert (refused["count"], refused["deletedIds"], refused["failedCount"]) == (0, [], 1)
    assert [(e["index"], e["id"], e["code"]) for e in refused["errors"]] == [
        (1, sent[1], "PRODUCT_IN_USE")
    ]
    assert "stock to 0" in refused["errors"][0]["message"]
    assert await fingerprint(wapi.url) == before

    payload = await delete(wapi, sent, "REJECT_FAILED_ROWS")
    assert payload["deletedIds"] == [sent[0], sent[2]]
    assert [e["code"] for e in payload["errors"]] == ["PRODUCT_IN_USE"]
    left = await fetch_all(wapi.url, "SELECT id FROM products WHERE id = ANY(:ids)", ids=ids)
    assert [row.id for row in left] == [ids[1]]
    events = await events_of(wapi.url, "DELETED", ids)
    assert [e.entity_id for e in events] == [ids[0], ids[2]]
    assert events[0].data["name"] == "Bulk"
    audit = await fetch_all(
        wapi.url, "SELECT entity_id FROM audit_events WHERE action = 'product.deleted'"
    )
    assert {row.entity_id for row in audit} == {ids[0], ids[2]}

    missing = await delete(wapi, [sent[0]], "IGNORE_FAILED")
    assert (missing["count"], missing["failedCount"], missing["errors"]) == (0, 1, [])


async def test_only_admins_bulk_write_products(wapi: Api) -> None:
    ids = await new_products(wapi.url, 2)
    user = await wapi.as_user(USER)
    before = await fingerprint(wapi.url)
    for api, code in ((user, "FORBIDDEN"), (wapi.as_(None), "UNAUTHENTICATED")):
        error = await api.error(
            BULK_UPDATE_PRODUCTS,
            {"items": [edit(i, stock=1) for i in ids], "policy": "REJECT_FAILED_ROWS"},
        )
        assert error["extensions"]["code"] == code
        error = await api.error(
            BULK_DELETE_PRODUCTS,
            {"ids": [gid("Product", i) for i in ids], "policy": "IGNORE_FAILED"},
        )
        assert error["extensions"]["code"] == code
    assert await fingerprint(wapi.url) == before


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with find_redis() as url:
        yield url


@pytest.fixture
async def capi(wapi: Api, redis_url: str) -> AsyncIterator[Api]:
    async with running_app(wapi.url, redis_url=redis_url) as api:
        yield api


PRODUCTS = "{ products(first: 100, orderBy: {field: SKU}) { edges { node { sku price } } } }"


async def test_a_cached_products_page_is_fresh_after_a_bulk_update(capi: Api) -> None:
    ids = await new_products(capi.url, 2)
    await capi.data(PRODUCTS)
    await capi.counted(PRODUCTS)
    assert capi.statements.statements == []  # served from the cache
    await update(capi, [edit(i, price="3.21") for i in ids], "REJECT_EVERYTHING")
    page = (await capi.data(PRODUCTS))["products"]["edges"]
    assert sorted(e["node"]["price"] for e in page if e["node"]["sku"].startswith("BULK"))[:2] == [
        "3.21",
        "3.21",
    ]
    await delete(capi, [gid("Product", ids[0])], "REJECT_EVERYTHING")
    page = (await capi.data(PRODUCTS))["products"]["edges"]
    assert sum(e["node"]["sku"].startswith("BULK") for e in page) == 1
