"""createProduct, updateProduct, deleteProduct."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Api
from tests.dbtools import fetch_one, fetch_value, fingerprint
from tests.graphql.mutations import CREATE_PRODUCT, DELETE_PRODUCT, UPDATE_PRODUCT
from tests.helpers import gid, pk

NEW = {"sku": "new-1", "name": "Lamp", "price": "12.5", "stock": 3}


async def test_admin_creates_a_product(wapi: Api) -> None:
    payload = (await wapi.data(CREATE_PRODUCT, {"input": NEW}))["createProduct"]
    assert payload["errors"] == []
    assert payload["product"]["sku"] == "NEW-1"
    assert payload["product"]["price"] == "12.50"
    row = await fetch_one(wapi.url, "SELECT * FROM products WHERE sku = 'NEW-1'")
    assert row.stock == 3
    assert (
        await fetch_value(
            wapi.url,
            "SELECT count(*) FROM audit_events WHERE action = 'product.created' AND entity_id = :i",
            i=pk(payload["product"]["id"]),
        )
        == 1
    )


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"sku": "SKU-000001"}, "sku", "SKU_TAKEN"),
        ({"sku": "has space"}, "sku", "INVALID_FORMAT"),
        ({"price": "-1"}, "price", "TOO_SMALL"),
        ({"stock": -1}, "stock", "TOO_SMALL"),
        ({"name": ""}, "name", "TOO_SHORT"),
        ({"description": "d" * 5001}, "description", "TOO_LONG"),
    ],
)
async def test_create_product_reports_fixable_problems(
    wapi: Api, change: dict[str, Any], field: str, code: str
) -> None:
    before = await fingerprint(wapi.url)
    payload = (await wapi.data(CREATE_PRODUCT, {"input": {**NEW, **change}}))["createProduct"]
    assert payload["product"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await fingerprint(wapi.url) == before


async def test_three_decimal_price_is_refused_by_the_money_scalar(wapi: Api) -> None:
    error = await wapi.error(CREATE_PRODUCT, {"input": {**NEW, "price": "1.005"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_only_admins_manage_products(wapi: Api) -> None:
    user = await wapi.as_user("user000001@example.com")
    assert (await user.error(CREATE_PRODUCT, {"input": NEW}))["extensions"]["code"] == ("FORBIDDEN")
    product = await fetch_one(wapi.url, "SELECT id FROM products ORDER BY sku LIMIT 1")
    update = {"input": {"id": gid("Product", product.id), "expectedVersion": 1, "stock": 9}}
    assert (await user.error(UPDATE_PRODUCT, update))["extensions"]["code"] == "FORBIDDEN"


async def test_update_product_with_versions(wapi: Api) -> None:
    row = await fetch_one(wapi.url, "SELECT * FROM products ORDER BY sku LIMIT 1")
    variables = {
        "input": {"id": gid("Product", row.id), "expectedVersion": row.version, "price": "7"}
    }
    product = (await wapi.data(UPDATE_PRODUCT, variables))["updateProduct"]["product"]
    assert product["price"] == "7.00"
    assert product["version"] == row.version + 1
    error = await wapi.error(UPDATE_PRODUCT, variables)
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["field"] == "expectedVersion"


async def test_update_of_a_missing_product_is_not_found(wapi: Api) -> None:
    missing = gid("Product", uuid.uuid4())
    error = await wapi.error(
        UPDATE_PRODUCT, {"input": {"id": missing, "expectedVersion": 1, "stock": 1}}
    )
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_a_product_orders_refer_to_is_not_deleted(wapi: Api) -> None:
    row = await fetch_one(
        wapi.url,
        "SELECT p.id, p.version FROM products p WHERE EXISTS "
        "(SELECT 1 FROM order_items i WHERE i.product_id = p.id) LIMIT 1",
    )
    payload = (
        await wapi.data(
            DELETE_PRODUCT,
            {"input": {"id": gid("Product", row.id), "expectedVersion": row.version}},
        )
    )["deleteProduct"]
    assert payload["deletedId"] is None
    assert payload["errors"][0]["code"] == "PRODUCT_IN_USE"
    assert "stock to 0" in payload["errors"][0]["message"]


async def test_an_unreferenced_product_is_deleted(wapi: Api) -> None:
    created = (await wapi.data(CREATE_PRODUCT, {"input": NEW}))["createProduct"]["product"]
    payload = (
        await wapi.data(DELETE_PRODUCT, {"input": {"id": created["id"], "expectedVersion": 1}})
    )["deleteProduct"]
    assert payload == {"deletedId": created["id"], "errors": []}
    assert await fetch_value(wapi.url, "SELECT count(*) FROM products WHERE sku = 'NEW-1'") == 0
