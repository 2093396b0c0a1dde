"""createExportLink and the links it signs, across two real server processes: a link made
on one works once on either, with its signer's rights as they are when it is opened."""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

from tests.conftest import token_for
from tests.events.conftest import Server
from tests.exports.conftest import SHORT_LINK_SECONDS, Site, code_of, csv_rows, error_of

CREATE_LINK = """
mutation($input: CreateExportLinkInput!) {
  createExportLink(input: $input) { url expiresAt errors { field code message } }
}
"""
REVOKE_TOKEN = """
mutation($input: RevokeApiTokenInput!) {
  revokeApiToken(input: $input) { apiToken { revokedAt } errors { code } }
}
"""
USER_EMAIL = "user000005@example.com"


async def create_link(
    site: Site, token: str | None, server: Server | None = None, **input: Any
) -> dict[str, Any]:
    body = await site.graphql(CREATE_LINK, token, server=server, input=input)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createExportLink"]
    return payload


async def new_link(
    site: Site, token: str | None, server: Server | None = None, **input: Any
) -> str:
    payload = await create_link(site, token, server, **input)
    assert payload["errors"] == [], payload
    url: str = payload["url"]
    return url


async def open_link(
    url: str, server: Server | None = None, path: str | None = None
) -> httpx.Response:
    """GET a link without any Authorization header, on `server` if given."""
    parts = urlsplit(url)
    port = server.port if server else parts.port
    link = parse_qs(parts.query)["link"][0]
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(
            f"http://127.0.0.1:{port}{path or parts.path}", params={"link": link}
        )


def link_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["link"][0]


async def test_a_link_downloads_once_on_any_instance_without_a_header(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    arguments: dict[str, Any] = {
        "filter": {"status": ["PENDING", "PAID"]},
        "orderBy": {"field": "TOTAL"},
    }
    url = await new_link(site, token, site.a, kind="ORDERS", format="CSV", **arguments)
    assert urlsplit(url).path == "/export/orders.csv"

    opened = await open_link(url, site.b)
    assert opened.status_code == 200
    assert opened.headers["content-disposition"].startswith('attachment; filename="orders-')
    direct = await site.download("/export/orders.csv", token, **arguments)
    assert opened.content == direct.content
    assert len(csv_rows(opened)) > 1

    again = await open_link(url, site.a)
    assert code_of(again, 410) == "LINK_USED"


async def test_a_link_is_good_for_export_link_seconds_only(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    payload = await create_link(site, token, site.b, kind="ORDERS", format="JSON")
    await asyncio.sleep(float(SHORT_LINK_SECONDS) + 0.5)
    response = await open_link(payload["url"], site.a)
    assert code_of(response, 410) == "LINK_EXPIRED"


def _reencoded(link: str, **changes: Any) -> str:
    body, _, signature = link.partition(".")
    claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    return f"{forged}.{signature}"


async def test_a_tampered_link_is_403_and_the_real_one_still_works(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    url = await new_link(site, token, kind="ORDERS", format="NDJSON")
    link = link_of(url)
    base = f"http://127.0.0.1:{site.a.port}/export/orders.ndjson"
    forged = [
        # The payload changed, the signature kept: someone else's rights, a later expiry.
        _reencoded(link, u="00000000000000000000000000000000"),
        _reencoded(link, e=4_000_000_000),
        link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"),  # signature changed
        "not-a-link",
        link.partition(".")[0],
    ]
    async with httpx.AsyncClient(timeout=30) as client:
        for bad in forged:
            response = await client.get(base, params={"link": bad})
            assert code_of(response, 403) == "LINK_INVALID", bad
    assert (await open_link(url)).status_code == 200


async def test_a_link_for_one_export_opens_no_other_and_stays_good(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    url = await new_link(site, token, kind="ORDERS", format="CSV")
    for path in ("/export/orders.json", "/export/users.csv", "/export/order-lines.csv"):
        error = error_of(await open_link(url, path=path), 403)
        assert error["extensions"]["code"] == "LINK_INVALID", path
        assert "/export/orders.csv" in error["message"]
    assert (await open_link(url)).status_code == 200


async def test_a_link_of_a_token_revoked_since_is_refused(site: Site) -> None:
    # A user no other test here signs in as: all their tokens are revoked.
    token = await token_for(site.url, "user000009@example.com")
    url = await new_link(site, token, kind="ORDER_LINES", format="CSV")
    tokens = await site.data("{ viewer { apiTokens { id } } }", token)
    for api_token in tokens["viewer"]["apiTokens"]:
        await site.data(REVOKE_TOKEN, await site.admin(), input={"id": api_token["id"]})
    response = await open_link(url, site.b)
    assert error_of(response, 401) == {
        "message": "This API token was revoked.",
        "extensions": {"code": "UNAUTHENTICATED"},
    }


async def test_a_link_carries_its_own_filter_and_refuses_another_in_the_url(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    url = await new_link(site, token, kind="ORDERS", format="CSV")
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(
            f"http://127.0.0.1:{site.a.port}/export/orders.csv",
            params={"link": link_of(url), "filter": "{}"},
        )
    assert code_of(response, 400) == "BAD_USER_INPUT"
    assert (await open_link(url)).status_code == 200


async def test_create_export_link_checks_the_filter_as_the_connection_does(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    bad = {"status": ["LOST"]}
    payload = await create_link(site, token, kind="ORDERS", format="CSV", filter=bad)
    body = await site.graphql(
        "query($filter: OrderFilter) { orders(filter: $filter) { totalCount } }", token, filter=bad
    )
    assert payload["url"] is None
    [error] = payload["errors"]
    assert error["code"] == "BAD_USER_INPUT"
    assert error["message"] == body["errors"][0]["message"]


async def test_anonymous_callers_may_link_products_but_not_orders(site: Site) -> None:
    body = await site.graphql(CREATE_LINK, None, input={"kind": "ORDERS", "format": "CSV"})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    url = await new_link(site, None, kind="PRODUCTS", format="JSON")
    response = await open_link(url)
    assert response.status_code == 200
    assert response.json() == (await site.download("/export/products.json")).json()
