"""The upload's HTTP rules: CSRF preflight, MAX_IMPORT_BYTES, admins only, and the field
cache after an import."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Api, running_app
from tests.dbtools import fetch_value
from tests.imports.uploads import post_upload, upload
from tests.redis_server import find_redis

GOOD = b"sku,name,price,stock\nimp-1,Oak desk,199.90,3\nimp-2,Lamp,19,0\n"


async def imported(api: Api) -> int:
    value: int = await fetch_value(api.url, "SELECT count(*) FROM products WHERE sku LIKE 'IMP-%'")
    return value


async def test_an_upload_without_a_preflight_header_is_refused_as_csrf(wapi: Api) -> None:
    # What a form on another site can send: multipart/form-data and no custom header.
    response = await wapi.client.post(
        "/graphql",
        data={
            "operations": '{"query": "mutation($f: Upload!) { importProducts(file: $f) '
            '{ created } }", "variables": {"f": null}}',
            "map": '{"0": ["variables.f"]}',
        },
        files={"0": ("p.csv", GOOD, "text/csv")},
        headers=wapi.headers,
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "PREFLIGHT_REQUIRED"
    assert "Apollo-Require-Preflight" in error["message"]
    assert await imported(wapi) == 0


async def test_an_upload_with_x_apollo_operation_name_passes_the_csrf_check(wapi: Api) -> None:
    payload = await upload(
        wapi, GOOD, headers={"apollo-require-preflight": "", "x-apollo-operation-name": "Import"}
    )
    assert payload["created"] == 2


@pytest.fixture
async def small_limits(wapi: Api) -> AsyncIterator[Api]:
    async with running_app(wapi.url, max_import_bytes=4096, max_body_bytes=2048) as api:
        yield api


async def test_an_upload_over_max_import_bytes_is_413_and_writes_nothing(small_limits: Api) -> None:
    big = b"sku,name,price\n" + b"".join(b"imp-%d,Desk,10\n" % i for i in range(400))
    assert len(big) > 4096
    response = await post_upload(small_limits, big)
    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "MAX_IMPORT_BYTES" in error["message"]
    assert await imported(small_limits) == 0


async def test_an_upload_under_max_import_bytes_may_exceed_max_body_bytes(
    small_limits: Api,
) -> None:
    content = b"sku,name,price\n" + b"".join(b"imp-%d,Desk,10\n" % i for i in range(200))
    assert 2048 < len(content) < 3500
    payload = await upload(small_limits, content)
    assert payload["created"] == 200


async def test_an_ordinary_request_keeps_max_body_bytes(small_limits: Api) -> None:
    response = await small_limits.client.post(
        "/graphql",
        json={"query": "{ viewer { id } }", "variables": {"pad": "x" * 3000}},
        headers=small_limits.headers,
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_user_may_not_upload(wapi: Api) -> None:
    user = await wapi.as_user("user000000@example.com")
    response = await post_upload(user, GOOD)
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await imported(wapi) == 0


async def test_an_anonymous_caller_may_not_upload(wapi: Api) -> None:
    response = await post_upload(wapi.as_(None), GOOD)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


PAGE = "{ products(first: 100, orderBy: {field: SKU}) { totalCount edges { node { sku stock } } } }"


@pytest.fixture
async def cached(wapi: Api) -> AsyncIterator[Api]:
    with find_redis() as redis_url:
        async with running_app(wapi.url, redis_url=redis_url) as api:
            yield api


async def test_a_cached_products_page_is_fresh_right_after_an_import(cached: Api) -> None:
    before = (await cached.data(PAGE))["products"]
    assert (await cached.counted(PAGE))["products"] == before
    assert cached.statements.statements == []  # served from the cache
    await upload(cached, GOOD)
    after = (await cached.data(PAGE))["products"]
    assert after["totalCount"] == before["totalCount"] + 2
    assert {"sku": "IMP-1", "stock": 3} in [edge["node"] for edge in after["edges"]]
    await upload(cached, b"sku,name,price,stock\nimp-1,Oak desk,199.90,0\n", mode="UPSERT")
    again = (await cached.data(PAGE))["products"]
    assert {"sku": "IMP-1", "stock": 0} in [edge["node"] for edge in again["edges"]]
