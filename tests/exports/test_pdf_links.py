"""Links for PDFs, across two real server processes: createExportLink(format: PDF) for
the orders report, and createInvoiceLink for an order's invoice. Each works once, on any
instance, without a header, and only for what it was signed for."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from pypdf import PdfReader

from tests.conftest import token_for
from tests.exports.conftest import Site, code_of, error_of
from tests.exports.test_exports import connection
from tests.exports.test_links import (
    REVOKE_TOKEN,
    _reencoded,
    create_link,
    link_of,
    new_link,
    open_link,
)
from tests.graphql.mutations import CREATE_USER, UPDATE_USER
from tests.helpers import gid

CREATE_INVOICE_LINK = """
mutation($input: CreateInvoiceLinkInput!) {
  createInvoiceLink(input: $input) { url expiresAt errors { field code message } }
}
"""
MY_ORDERS = "{ viewer { id orders(first: 100) { edges { node { id } } } } }"
USER_EMAIL = "user000006@example.com"
OTHER_EMAIL = "user000007@example.com"
REVOKED_EMAIL = "user000008@example.com"  # no other test here signs in as them


def pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(response.content)).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


async def my_order_ids(site: Site, token: str) -> list[str]:
    viewer = (await site.data(MY_ORDERS, token))["viewer"]
    return [edge["node"]["id"] for edge in viewer["orders"]["edges"]]


async def invoice_link(site: Site, token: str | None, order_id: str) -> dict[str, Any]:
    body = await site.graphql(CREATE_INVOICE_LINK, token, input={"orderId": order_id})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createInvoiceLink"]
    return payload


async def new_invoice_link(site: Site, token: str, order_id: str) -> str:
    payload = await invoice_link(site, token, order_id)
    assert payload["errors"] == [], payload
    url: str = payload["url"]
    return url


# -- the orders report


async def test_a_report_link_downloads_the_pdf_once_with_its_filter(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    filter = {"status": ["DELIVERED", "PAID", "PENDING", "SHIPPED"]}
    url = await new_link(site, token, site.a, kind="ORDERS", format="PDF", filter=filter)
    assert urlsplit(url).path == "/export/orders.pdf"

    opened = await open_link(url, site.b)
    text = pdf_text(opened)
    assert opened.headers["content-disposition"].startswith('attachment; filename="orders-')
    assert "status: DELIVERED, PAID, PENDING, SHIPPED" in text
    assert "<user000006@example.com>" in text
    # The signer's orders that the filter selects, and no one else's.
    page = await site.data(
        "query($f: OrderFilter) { orders(first: 100, filter: $f) { edges { node { id } } } }",
        token,
        f=filter,
    )
    listed = {edge["node"]["id"] for edge in page["orders"]["edges"]}
    assert listed
    assert f"ORDERS ({len(listed)})" in text
    everyone = await connection(site, "orders", "id", await site.admin())
    assert len(everyone) > len(listed)
    assert {order["id"] for order in everyone if order["id"] in text} == listed

    assert code_of(await open_link(url, site.a), 410) == "LINK_USED"


async def test_a_pdf_link_is_for_orders_only(site: Site) -> None:
    token = await site.admin()
    for kind in ("USERS", "PRODUCTS", "ORDER_LINES"):
        payload = await create_link(site, token, kind=kind, format="PDF")
        assert payload["url"] is None
        [error] = payload["errors"]
        assert error["field"] == "format"
        assert error["code"] == "UNSUPPORTED_FORMAT"
        assert f"{kind} exports as CSV, NDJSON, JSON" in error["message"]


async def test_a_report_link_opens_no_csv_and_a_csv_link_no_report(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    pdf = await new_link(site, token, kind="ORDERS", format="PDF")
    csv = await new_link(site, token, kind="ORDERS", format="CSV")
    assert code_of(await open_link(pdf, path="/export/orders.csv"), 403) == "LINK_INVALID"
    assert code_of(await open_link(csv, path="/export/orders.pdf"), 403) == "LINK_INVALID"
    assert (await open_link(pdf)).status_code == 200
    assert (await open_link(csv)).status_code == 200


# -- invoices


async def test_an_invoice_link_opens_its_invoice_once_on_any_instance(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    order_id = (await my_order_ids(site, token))[0]
    url = await new_invoice_link(site, token, order_id)
    assert urlsplit(url).path == f"/orders/{order_id}/invoice.pdf"

    opened = await open_link(url, site.b)
    assert order_id in pdf_text(opened)
    assert opened.headers["content-disposition"].startswith('inline; filename="invoice-')

    assert code_of(await open_link(url, site.a), 410) == "LINK_USED"


async def test_an_invoice_link_opens_no_other_order_and_stays_good(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    first, second, *_ = await my_order_ids(site, token)
    url = await new_invoice_link(site, token, first)
    # Even another order of the same buyer: the link names one invoice.
    error = error_of(await open_link(url, path=f"/orders/{second}/invoice.pdf"), 403)
    assert error["extensions"]["code"] == "LINK_INVALID"
    assert "another order" in error["message"]
    # Nor an export: links are signed for one purpose.
    assert code_of(await open_link(url, path="/export/orders.pdf"), 403) == "LINK_INVALID"
    assert first in pdf_text(await open_link(url))


async def test_a_tampered_invoice_link_is_refused_and_the_real_one_still_works(
    site: Site,
) -> None:
    token = await site.token(USER_EMAIL)
    first, second, *_ = await my_order_ids(site, token)
    url = await new_invoice_link(site, token, first)
    other = await new_invoice_link(site, token, second)
    claims_of_other = _claims(link_of(other))
    # The first link's signature on the second link's order.
    forged = _reencoded(link_of(url), a=claims_of_other["a"])
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(
            f"http://127.0.0.1:{site.a.port}/orders/{second}/invoice.pdf", params={"link": forged}
        )
    assert code_of(response, 403) == "LINK_INVALID"
    assert first in pdf_text(await open_link(url))
    assert second in pdf_text(await open_link(other))


async def test_an_invoice_link_is_only_for_an_order_you_may_read(site: Site) -> None:
    token = await site.token(OTHER_EMAIL)
    theirs = (await my_order_ids(site, await site.token(USER_EMAIL)))[0]
    refused = await invoice_link(site, token, theirs)
    missing = await invoice_link(site, token, gid("Order", uuid.uuid4()))
    assert refused["url"] is None
    assert refused["errors"] == missing["errors"]
    assert [error["code"] for error in refused["errors"]] == ["NOT_FOUND"]
    malformed = await invoice_link(site, token, "not-an-id")
    assert [(e["field"], e["code"]) for e in malformed["errors"]] == [("orderId", "BAD_USER_INPUT")]
    # An admin's link opens anyone's invoice.
    url = await new_invoice_link(site, await site.admin(), theirs)
    assert theirs in pdf_text(await open_link(url))


async def test_anonymous_callers_get_no_invoice_link(site: Site) -> None:
    order_id = (await my_order_ids(site, await site.token(USER_EMAIL)))[0]
    body = await site.graphql(CREATE_INVOICE_LINK, None, input={"orderId": order_id})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_invoice_link_runs_with_its_makers_rights_as_they_are_when_opened(
    site: Site,
) -> None:
    """An admin's link to someone else's invoice stops working when the admin is
    demoted, and any link when its token is revoked."""
    admin = await site.admin()
    made = await site.data(
        CREATE_USER, admin, input={"email": "clerk@example.com", "name": "Clerk", "role": "ADMIN"}
    )
    clerk = made["createUser"]["user"]
    clerk_token = await token_for(site.url, "clerk@example.com")
    theirs = (await my_order_ids(site, await site.token(USER_EMAIL)))[0]
    url = await new_invoice_link(site, clerk_token, theirs)
    await site.data(
        UPDATE_USER,
        admin,
        input={"id": clerk["id"], "expectedVersion": clerk["version"], "role": "USER"},
    )
    assert code_of(await open_link(url, site.b), 404) == "NOT_FOUND"

    token = await token_for(site.url, REVOKED_EMAIL)
    mine = (await my_order_ids(site, token))[0]
    url = await new_invoice_link(site, token, mine)
    tokens = await site.data("{ viewer { apiTokens { id } } }", token)
    for api_token in tokens["viewer"]["apiTokens"]:
        await site.data(REVOKE_TOKEN, admin, input={"id": api_token["id"]})
    assert code_of(await open_link(url), 401) == "UNAUTHENTICATED"


async def test_an_invoice_refuses_unknown_query_parameters(site: Site) -> None:
    token = await site.token(USER_EMAIL)
    order_id = (await my_order_ids(site, token))[0]
    url = await new_invoice_link(site, token, order_id)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(
            f"http://127.0.0.1:{site.a.port}/orders/{order_id}/invoice.pdf",
            params={"link": link_of(url), "download": "1"},
        )
    error = error_of(response, 400)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "download"}
    assert "Unknown query parameter `download`" in error["message"]
    # Refused before the link was used.
    assert order_id in pdf_text(await open_link(url))


def _claims(link: str) -> dict[str, Any]:
    body = link.partition(".")[0]
    claims: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims
