"""HTTP routes for PDFs: an order's invoice, and a report of orders.

Callers sign in with the same `Authorization` header as /graphql. Errors are the JSON
GraphQL-style body `{"errors": [{"message", "extensions": {"code"}}]}` that /graphql
answers for a request that cannot run, with an HTTP status that fits the code.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from typing import Any

import orjson
from graphql import parse
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry import Schema
from strawberry.types.arguments import convert_argument

from app.auth import policy
from app.auth.viewer import Viewer
from app.db.engine import connect
from app.errors import BadInput, OrdergraphError
from app.exports.pdf.invoice import Seller, load_invoice, render_invoice
from app.exports.pdf.report import draw_report, load_orders_report
from app.graphql.connections import ordering_of
from app.graphql.orders.queries import DEFAULT_ORDER
from app.graphql.orders.types import OrderFilter, OrderSort
from app.graphql.relay import pk_of
from app.queries import orders
from app.queries.keyset import Ordering
from app.queries.orders import OrderWhere

log = logging.getLogger(__name__)
PDF = "application/pdf"

STATUS = {
    "BAD_USER_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "TOO_MANY_ROWS": 422,
    "SERVICE_UNAVAILABLE": 503,
    "TRY_AGAIN": 503,
}


def pdf_routes(schema: Schema) -> list[Route]:
    """GET /orders/{id}/invoice.pdf and GET /export/orders.pdf."""

    async def invoice(request: Request) -> Response:
        return await _answer(request, _invoice)

    async def report(request: Request) -> Response:
        return await _answer(request, lambda request: _report(request, schema))

    return [
        Route("/orders/{id}/invoice.pdf", invoice, methods=["GET"]),
        Route("/export/orders.pdf", report, methods=["GET"]),
    ]


async def _invoice(request: Request) -> Response:
    state = request.app.state
    viewer = await state.authenticator.viewer(request.headers.get("authorization"))
    # Before the id is even read: an anonymous caller learns nothing about it.
    policy.require_user(viewer, to="read invoices")
    order_id = order_pk(request.path_params["id"])
    async with connect(state.reader) as conn:
        invoice = await load_invoice(conn, viewer=viewer, order_id=order_id)
    seller = Seller.from_settings(state.settings)
    body = await asyncio.to_thread(render_invoice, invoice, seller=seller)
    # inline: an invoice is opened to be read and printed in the browser's viewer; the
    # filename still names it when saved.
    return _pdf(body, f'inline; filename="invoice-{invoice.order.id}.pdf"')


async def _report(request: Request, schema: Schema) -> Response:
    state = request.app.state
    viewer: Viewer = await state.authenticator.viewer(request.headers.get("authorization"))
    policy.require_user(viewer, to="report on orders")
    where, ordering = parse_orders_query(schema, request.query_params)
    # One snapshot: the totals by status and the rows are of the same moment.
    async with connect(_snapshot(state.engine)) as conn, conn.begin():
        report = await load_orders_report(
            conn,
            viewer=viewer,
            where=where,
            ordering=ordering,
            max_rows=state.settings.pdf_max_rows,
        )
    # Drawn after the connection went back to the pool: 5,000 rows take seconds.
    body = await asyncio.to_thread(draw_report, report)
    # attachment, like every export: a report is a file to keep or send on.
    return _pdf(body, 'attachment; filename="orders-report.pdf"')


def _snapshot(engine: AsyncEngine) -> AsyncEngine:
    return engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)


def order_pk(value: str) -> uuid.UUID:
    """An order's global ID as the API shows it, or its raw UUID."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return pk_of(value, "Order", argument="id")


# The inputs of `orders(filter:, orderBy:)`, coerced by graphql-core exactly as the
# variables of a GraphQL request are: the same rules, the same messages.
_VARIABLES = parse("query($filter: OrderFilter, $orderBy: OrderSort) { __typename }")
_PARAMETERS = ("filter", "orderBy")


def parse_orders_query(schema: Schema, params: Any) -> tuple[OrderWhere | None, Ordering]:
    """`filter` and `orderBy` from a query string, as JSON in the shape of the `orders`
    connection's arguments; bad input is BadInput with GraphQL's own message."""
    unknown = sorted(set(params.keys()) - set(_PARAMETERS))
    if unknown:
        raise BadInput(
            f"Unknown query parameter `{unknown[0]}`; this export takes `filter` and "
            "`orderBy`, each as JSON in the shape of the orders connection's arguments."
        )
    values: dict[str, object] = {}
    for name in _PARAMETERS:
        raw = params.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[name] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            example = '{"status": ["PAID"]}' if name == "filter" else '{"field": "TOTAL"}'
            raise BadInput(f"`{name}` must be JSON, such as {example}.", field=name) from None
    operation = _VARIABLES.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    coerced = get_variable_values(
        schema._schema, operation.variable_definitions or (), values, max_errors=1
    )
    if isinstance(coerced, list):
        raise BadInput(coerced[0].message)
    registry, config = schema.schema_converter.scalar_registry, schema.config
    filter = convert_argument(coerced.coerced.get("filter"), OrderFilter, registry, config)
    order_by = convert_argument(coerced.coerced.get("orderBy"), OrderSort, registry, config)
    assert filter is None or isinstance(filter, OrderFilter)
    assert order_by is None or isinstance(order_by, OrderSort)
    ordering = ordering_of(order_by, keys=orders.SORT_KEYS, default=DEFAULT_ORDER)
    return (filter.to_query() if filter is not None else None), ordering


def _pdf(body: bytes, disposition: str) -> Response:
    return Response(
        body,
        media_type=PDF,
        headers={
            "content-disposition": disposition,
            # Personal data: kept by no shared cache, and by the browser only while shown.
            "cache-control": "private, no-store",
            "x-content-type-options": "nosniff",
        },
    )


async def _answer(request: Request, handle: Any) -> Response:
    try:
        response: Response = await handle(request)
    except OrdergraphError as exc:
        response = error_response(exc.code, exc.message, STATUS.get(exc.code, 400))
    except Exception:
        request_id = secrets.token_hex(8)
        log.exception("Unhandled error in %s (request %s)", request.url.path, request_id)
        response = error_response(
            "INTERNAL",
            f"Internal server error (request id {request_id}); this is a bug on our side.",
            500,
        )
    return response


def error_response(code: str, message: str, status: int) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    response = Response(orjson.dumps(body), status, media_type="application/json")
    if status == 401:
        response.headers["www-authenticate"] = 'Bearer error="invalid_token"'
    return response
