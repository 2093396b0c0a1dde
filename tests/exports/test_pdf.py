"""PDF invoices and order reports, read back with pypdf: what they say, and who may
read them."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.viewer import Viewer
from app.db.engine import transaction
from app.db.seed import ADMIN_EMAIL, seed
from app.db.users import users
from app.exports.pdf.layout import money
from app.exports.pdf.report import render_orders_report
from app.graphql.orders.queries import DEFAULT_ORDER
from app.queries.orders import OrderWhere
from app.services.audit import Actor
from app.services.orders import Line, NewOrder, place_order, update_order_status
from app.services.products import NewProduct, create_product
from app.services.users import NewUser, create_user
from tests import postgres
from tests.conftest import SMALL, Api, running_app, token_for
from tests.dbtools import fetch_all
from tests.exports.conftest import error_of
from tests.helpers import gid

BUYER_NAME = "Zoë Łódź 東京 김민준"
# 100 characters, the most a name may have.
LONG_NAME = (
    "Hand-stitched waterproof canvas and leather weekender bag with brass buckles and a "
    "detachable strap"
)


@dataclass(frozen=True)
class Shop:
    url: str
    order_id: uuid.UUID
    skus: list[str]
    line_totals: list[Decimal]
    total: Decimal
    buyer: str
    other: str


async def build_shop(url: str) -> Shop:
    """SMALL's users and orders, and one order of three lines for a buyer with a
    name in three scripts, paid, made through the services."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
        async with transaction(engine) as conn:
            admin_id = await conn.scalar(select(users.c.id).where(users.c.email == ADMIN_EMAIL))
            admin = Actor(viewer=Viewer(user_id=admin_id, role="admin"))
            buyer = await create_user(
                conn, actor=admin, data=NewUser(email="zoe@example.com", name=BUYER_NAME)
            )
            await create_user(conn, actor=admin, data=NewUser(email="other@example.com", name="O"))
            specs = [
                ("PDF-MUG", "Mug", Decimal("12.50"), 3),
                ("PDF-BAG", LONG_NAME, Decimal("1249.99"), 1),
                ("PDF-TEA", "Tè verde — 緑茶", Decimal("0.99"), 7),
            ]
            products = [
                await create_product(
                    conn, actor=admin, data=NewProduct(sku=sku, name=name, price=price, stock=50)
                )
                for sku, name, price, _ in specs
            ]
            order = await place_order(
                conn,
                actor=Actor(viewer=Viewer(user_id=buyer.id, role="user")),
                data=NewOrder(
                    items=[
                        Line(product_id=product.id, quantity=spec[3])
                        for product, spec in zip(products, specs, strict=True)
                    ],
                    idempotency_key="pdf",
                ),
            )
            order = await update_order_status(
                conn, actor=admin, order_id=order.id, status="paid", expected_version=order.version
            )
    finally:
        await engine.dispose()
    return Shop(
        url=url,
        order_id=order.id,
        skus=[spec[0] for spec in specs],
        line_totals=[spec[2] * spec[3] for spec in specs],
        total=order.total,
        buyer=await token_for(url, "zoe@example.com"),
        other=await token_for(url, "other@example.com"),
    )


@pytest.fixture(scope="module")
async def shop(server_url: str, template_db: str) -> AsyncIterator[Shop]:
    name = postgres.unique_name("pdf")
    url = await postgres.create_database(server_url, name, template=template_db)
    try:
        yield await build_shop(url)
    finally:
        await postgres.drop_database(server_url, name)


@pytest.fixture(scope="module")
async def client(shop: Shop) -> AsyncIterator[Api]:
    """The shop's app, as its admin unless a test asks as someone else."""
    async with running_app(shop.url) as api:
        yield api


async def get(api: Api, path: str, token: str | None, **params: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return await api.client.get(path, params=params, headers=headers)


def text_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def pages_of(response: httpx.Response) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages]


def invoice_path(shop: Shop) -> str:
    return f"/orders/{gid('Order', shop.order_id)}/invoice.pdf"


# -- invoices


async def test_invoice_shows_lines_total_status_date_id_seller_and_buyer(
    client: Api, shop: Shop
) -> None:
    response = await get(client, invoice_path(shop), shop.buyer)
    text = text_of(response)
    for sku, line_total in zip(shop.skus, shop.line_totals, strict=True):
        assert sku in text
        assert money(line_total) in text
    assert "1,249.99" in text  # a unit price, grouped
    assert f"Total 11 {money(shop.total)}" in text  # 3 + 1 + 7 units
    assert "PAID" in text
    assert gid("Order", shop.order_id) in text
    [created] = await fetch_all(
        shop.url, "SELECT created_at FROM orders WHERE id = :i", i=shop.order_id
    )
    assert created[0].strftime("%Y-%m-%d") in text
    assert "Ordergraph Demo Shop" in text
    assert "zoe@example.com" in text
    disposition = response.headers["content-disposition"]
    assert disposition == f'inline; filename="invoice-{shop.order_id}.pdf"'
    assert response.headers["cache-control"] == "private, no-store"


async def test_invoice_prints_names_in_any_script_and_wraps_long_ones(
    client: Api, shop: Shop
) -> None:
    text = text_of(await get(client, invoice_path(shop), shop.buyer))
    assert BUYER_NAME in text
    assert "Tè verde — 緑茶" in text
    # The long name wraps inside its column instead of running over the prices.
    assert " ".join(text.split()).count("brass buckles") == 1
    assert LONG_NAME.split()[-1] in text


async def test_latin_only_documents_do_not_embed_the_cjk_font(client: Api, shop: Shop) -> None:
    async with running_app(shop.url) as api:
        [latin] = await fetch_all(
            shop.url,
            "SELECT id FROM orders WHERE user_id <> (SELECT id FROM users "
            "WHERE email = 'zoe@example.com') LIMIT 1",
        )
        plain = await get(api, f"/orders/{latin.id}/invoice.pdf", api.token)
        cjk = await get(api, invoice_path(shop), api.token)
    assert b"DroidSansFallback" not in plain.content
    assert b"DroidSansFallback" in cjk.content


async def test_invoice_takes_the_raw_uuid_too(client: Api, shop: Shop) -> None:
    text = text_of(await get(client, f"/orders/{shop.order_id}/invoice.pdf", shop.buyer))
    assert gid("Order", shop.order_id) in text


async def test_admin_reads_anyones_invoice(client: Api, shop: Shop) -> None:
    text = text_of(await get(client, invoice_path(shop), client.token))
    assert BUYER_NAME in text


async def test_someone_elses_invoice_is_not_found_like_a_missing_one(
    client: Api, shop: Shop
) -> None:
    theirs = error_of(await get(client, invoice_path(shop), shop.other), 404)
    missing = error_of(
        await get(client, f"/orders/{gid('Order', uuid.uuid4())}/invoice.pdf", shop.other), 404
    )
    assert theirs == missing
    assert theirs["extensions"]["code"] == "NOT_FOUND"


async def test_anonymous_and_bad_credentials_get_401(client: Api, shop: Shop) -> None:
    anonymous = await get(client, invoice_path(shop), None)
    error = error_of(anonymous, 401)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Bearer" in error["message"]
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    bad = error_of(await get(client, invoice_path(shop), "og_not-a-token"), 401)
    assert bad["extensions"]["code"] == "UNAUTHENTICATED"
    # Same for a report.
    report = error_of(await get(client, "/export/orders.pdf", None), 401)
    assert report["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("bad_id", ["not-an-id", gid("User", uuid.uuid4())])
async def test_a_malformed_or_wrong_type_id_is_bad_input(
    client: Api, shop: Shop, bad_id: str
) -> None:
    error = error_of(await get(client, f"/orders/{bad_id}/invoice.pdf", shop.buyer), 400)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Order ID" in error["message"] or "not an ID" in error["message"]


# -- reports


async def status_totals(url: str, where: str = "true", **params: Any) -> dict[str, Any]:
    rows = await fetch_all(
        url,
        f"SELECT status, count(*) AS n, sum(total) AS amount FROM orders WHERE {where} "
        "GROUP BY status",
        **params,
    )
    return {row.status: row for row in rows}


def status_line(status: str, count: int, amount: Decimal) -> str:
    """A row of the totals table as pypdf reads it: "PAID 12 3,456.78"."""
    name = status if status == "All" else status.upper()
    return f"{name} {count:,} {money(amount)}"


async def test_report_totals_by_status_match_the_data(api: Api) -> None:
    """On the standard data set (120 orders): several pages, each with the table's
    header and its page number."""
    response = await get(api, "/export/orders.pdf", api.token)
    text = text_of(response)
    expected = await status_totals(api.url)
    for status, row in expected.items():
        assert status_line(status, row.n, row.amount) in text
    every = sum(row.n for row in expected.values())
    assert status_line("All", every, sum(row.amount for row in expected.values())) in text
    assert f"ORDERS ({every:,})" in text
    assert "Orders of: All users (admin)" in text
    ids = await fetch_all(api.url, "SELECT id FROM orders")
    assert all(gid("Order", row.id) in text for row in ids)
    pages = pages_of(response)
    assert len(pages) > 1
    for number, page in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in page
        if number > 1:
            assert "Created Order ID Buyer Status Units Total" in page
    today = datetime.now(UTC).date().isoformat()
    assert response.headers["content-disposition"] == f'attachment; filename="orders-{today}.pdf"'
    assert response.headers["cache-control"] == "private, no-store"


async def test_report_shows_its_filter_and_only_matching_orders(api: Api) -> None:
    filter = {"status": ["PAID", "SHIPPED"], "total": {"min": "1000"}}
    order_by = {"field": "TOTAL", "direction": "DESC"}
    response = await get(
        api,
        "/export/orders.pdf",
        api.token,
        filter=json.dumps(filter),
        orderBy=json.dumps(order_by),
    )
    text = text_of(response)
    assert "status: PAID, SHIPPED" in text
    assert "total: min 1,000.00" in text
    assert "orderBy: TOTAL DESC" in text
    rows = await fetch_all(
        api.url,
        "SELECT id, status, total FROM orders WHERE status IN ('paid', 'shipped') "
        "AND total >= 1000 ORDER BY total DESC, id DESC",
    )
    expected = await status_totals(api.url, "status IN ('paid', 'shipped') AND total >= 1000")
    for status, row in expected.items():
        assert status_line(status, row.n, row.amount) in text
    assert "PENDING" not in text
    flat = " ".join(text.split())
    positions = [flat.index(gid("Order", row.id)) for row in rows]
    assert positions == sorted(positions)  # in the order asked for
    others = await fetch_all(
        api.url, "SELECT id FROM orders WHERE NOT (status IN ('paid', 'shipped') AND total >= 1000)"
    )
    assert not any(gid("Order", row.id) in flat for row in others)


async def test_a_users_report_holds_only_their_orders(client: Api, shop: Shop) -> None:
    text = text_of(await get(client, "/export/orders.pdf", shop.buyer))
    assert f"Orders of: {BUYER_NAME} <zoe@example.com>" in text
    assert status_line("paid", 1, shop.total) in text
    assert "ORDERS (1)" in text
    assert gid("Order", shop.order_id) in text
    others = await fetch_all(shop.url, "SELECT id FROM orders WHERE id <> :i", i=shop.order_id)
    assert others
    assert not any(gid("Order", row.id) in text for row in others)
    # Someone with no orders gets an empty report, not an error.
    empty = text_of(await get(client, "/export/orders.pdf", shop.other))
    assert "ORDERS (0)" in empty
    assert "No orders match this filter." in empty


async def test_a_report_over_the_row_cap_points_to_csv(shop: Shop) -> None:
    async with running_app(shop.url, pdf_max_rows=2) as api:
        error = error_of(await get(api, "/export/orders.pdf", api.token), 422)
        assert error["extensions"]["code"] == "TOO_MANY_ROWS"
        assert "/export/orders.csv" in error["message"]
        assert "at most 2" in error["message"]
        # Narrowed under the cap, the same report works.
        narrow = json.dumps({"status": ["PAID"]})
        assert "ORDERS (1)" in text_of(
            await get(api, "/export/orders.pdf", api.token, filter=narrow)
        )


@pytest.mark.parametrize(
    ("filter", "order_by"),
    [
        ({"status": ["LOST"]}, None),
        ({"total": {"min": "1.555"}}, None),
        ({"colour": "red"}, None),
        ({"createdAt": {"from": "2026-01-01T00:00:00"}}, None),
        ({"userId": "nonsense"}, None),
        ({"total": {"min": "10", "max": "5"}}, None),
        (None, {"field": "PRICE"}),
    ],
)
async def test_bad_filter_is_refused_as_graphql_refuses_it(
    client: Api, filter: Any, order_by: Any
) -> None:
    params = {}
    if filter is not None:
        params["filter"] = json.dumps(filter)
    if order_by is not None:
        params["orderBy"] = json.dumps(order_by)
    error = error_of(await get(client, "/export/orders.pdf", client.token, **params), 400)
    graphql = await client.query(
        "query($filter: OrderFilter, $orderBy: OrderSort) "
        "{ orders(filter: $filter, orderBy: $orderBy) { totalCount } }",
        {"filter": filter, "orderBy": order_by},
    )
    [expected] = graphql["errors"]
    assert error["extensions"]["code"] == expected["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == expected["message"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"filter": "{status: PAID}"}, "`filter` must be JSON"),
        ({"orderBy": "TOTAL"}, "`orderBy` must be JSON"),
        ({"filters": "{}"}, "Unknown query parameter `filters`"),
    ],
)
async def test_unreadable_parameters_are_bad_input(
    client: Api, params: dict[str, str], says: str
) -> None:
    error = error_of(await get(client, "/export/orders.pdf", client.token, **params), 400)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"]


async def test_render_orders_report_is_usable_without_the_route(shop: Shop) -> None:
    """The entry point an export registry calls: a connection, a viewer, the query."""
    engine = create_async_engine(shop.url, isolation_level="REPEATABLE READ")
    try:
        async with engine.connect() as conn, conn.begin():
            buyer = await conn.scalar(select(users.c.id).where(users.c.email == "zoe@example.com"))
            body = await render_orders_report(
                conn,
                viewer=Viewer(user_id=buyer, role="user"),
                where=OrderWhere(statuses=("paid",)),
                ordering=DEFAULT_ORDER,
                max_rows=10,
            )
    finally:
        await engine.dispose()
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    assert "status: PAID" in text
    assert gid("Order", shop.order_id) in text
