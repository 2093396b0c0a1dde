"""How the HTTP routes beside /graphql (downloads, PDFs, imports) answer a failure.

One body for every route, the one /graphql answers for a request that cannot run
(GraphQL over HTTP), so a client parses errors one way wherever they come from:

    {"errors": [{"message": "...", "extensions": {"code": "...", "field": "filter"}}]}

`field` when the error names an argument, `retryable: true` where the same request may
succeed later, and for a bug `requestId` (code INTERNAL; the stack trace goes to the
log only). The HTTP status follows the code, by STATUS.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.errors import (
    BadInput,
    Conflict,
    Forbidden,
    InvalidInput,
    LinkExpired,
    LinkRefused,
    LinkUsed,
    NotFound,
    OrdergraphError,
    ServiceUnavailable,
    ShuttingDown,
    StatementTimeout,
    TooManyRows,
    TryAgain,
    Unauthenticated,
)
from app.web.requests import request_id

log = logging.getLogger("app.web")

# Most specific first: a subclass not listed takes its parent's status.
STATUS: dict[type[OrdergraphError], int] = {
    BadInput: 400,
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    LinkExpired: 410,
    LinkUsed: 410,
    LinkRefused: 403,  # LinkInvalid, and any other refused link
    TooManyRows: 422,
    ServiceUnavailable: 503,
    # PostgreSQL cancelled a statement past DB_STATEMENT_TIMEOUT_MS: not the client's
    # input, and not a bug; the server declined to finish it.
    StatementTimeout: 503,
    ShuttingDown: 503,  # a stream ended by the drain: resume elsewhere with `after`
    TryAgain: 503,
}


def status_of(error: OrdergraphError) -> int:
    """The HTTP status of a domain error (500 for one that has none: a bug)."""
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), 500)


def error_response(
    code: str, message: str, status: int, *, extensions: dict[str, Any] | None = None
) -> Response:
    """The one error body, with `status` (401 also says how to sign in)."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **(extensions or {})}}]}
    response = Response(orjson.dumps(body), status, media_type="application/json")
    if status == 401:
        response.headers["www-authenticate"] = 'Bearer error="invalid_token"'
    return response


def domain_error_response(error: OrdergraphError) -> Response:
    extensions: dict[str, Any] = {}
    if error.field:
        extensions["field"] = error.field
    if error.retryable:
        extensions["retryable"] = True
    return error_response(error.code, error.message, status_of(error), extensions=extensions)


def internal_error_response(request_id: str) -> Response:
    return error_response(
        "INTERNAL",
        f"Internal server error (request id {request_id}); this is a bug on our side.",
        500,
        extensions={"requestId": request_id},
    )


Handler = Callable[[Request], Awaitable[Response]]


def answering(handler: Handler) -> Handler:
    """`handler`, with every failure answered in the one shape: a domain error with its
    status, anything else as INTERNAL (logged with the request id and stack trace). Every
    answer carries X-Request-ID, the caller's if it sent a plain one."""

    async def endpoint(request: Request) -> Response:
        rid = request_id(request)
        try:
            response = await handler(request)
        except OrdergraphError as exc:
            response = domain_error_response(exc)
        except Exception:
            log.exception("Unhandled error in %s (request %s)", request.url.path, rid)
            response = internal_error_response(rid)
        response.headers["x-request-id"] = rid
        return response

    return endpoint
