"""What both graphql-sse modes share: the event stream's wire format, the request's
GraphQL parameters, each result's payload, and the per-caller cap on streams."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.types import Send
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult

from app.graphql.context import Context
from app.graphql.errors import classify
from app.graphql.events.sharing import spliced

if TYPE_CHECKING:
    from app.graphql.http import GraphQLApp

EVENT_STREAM = "text/event-stream"
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
KEEPALIVE = b":\n\n"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    # A long-lived stream: never cached, never compressed or buffered on the way.
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


def accepts(request: Request, *media: str) -> bool:
    """Whether the Accept header names one of `media` (types, not wildcards, unless
    they are among `media`)."""
    accept = request.headers.get("accept", "")
    return any(part.split(";", 1)[0].strip().lower() in media for part in accept.split(","))


def wants_event_stream(request: Request) -> bool:
    """True for a GET or POST whose Accept names text/event-stream."""
    return request.method in {"GET", "POST"} and accepts(request, EVENT_STREAM)


class TooManyStreams(HTTPException):
    """429: the caller already holds SSE_MAX_STREAMS streams on this worker."""

    code = TOO_MANY_SUBSCRIPTIONS

    def __init__(self, limit: int) -> None:
        super().__init__(
            429,
            f"Stream limit reached: a caller holds at most {limit} event streams at once "
            "(SSE_MAX_STREAMS), reservations of single connection mode included; close "
            "one, or use a WebSocket, which carries many subscriptions on one connection.",
        )


class StreamSlots:
    """How many streams each caller holds on this worker, capped per caller."""

    def __init__(self) -> None:
        self._held: Counter[Hashable] = Counter()

    @contextlib.contextmanager
    def hold(self, caller: Hashable, limit: int) -> Iterator[None]:
        if self._held[caller] >= limit:
            raise TooManyStreams(limit)
        self._held[caller] += 1
        try:
            yield
        finally:
            self._held[caller] -= 1
            if not self._held[caller]:
                del self._held[caller]


def caller_of(context: Context) -> Hashable:
    """Who a stream counts against: the signed-in user, else the client's address."""
    viewer = context.viewer
    if viewer.user_id is not None:
        return ("user", viewer.user_id)
    return ("address", context.meta.client_addr)


def message(event: str, data: object) -> bytes:
    # orjson never writes a raw newline, so the JSON fits one `data:` line.
    return f"event: {event}\ndata: ".encode() + orjson.dumps(spliced(data)) + b"\n\n"


async def request_data(view: GraphQLApp, request: Request) -> GraphQLRequestData:
    """The one operation a request carries (query string or JSON body)."""
    adapter = view.request_adapter_class(request)
    try:
        data = await view.parse_http_body(adapter)
    except orjson.JSONDecodeError:
        raise HTTPException(400, "Unable to parse request body as JSON") from None
    if not isinstance(data, GraphQLRequestData):
        raise HTTPException(400, "An event stream carries one operation, not a batch.")
    return data


async def payload(view: GraphQLApp, request: Request, result: Any, *, request_id: str) -> Any:
    """A result in its wire shape, its errors coded (and logged when they are ours)."""
    if not isinstance(result, ExecutionResult):
        # An incremental-delivery frame (@defer/@stream): already in its wire shape.
        return getattr(result, "formatted", {})
    if result.errors:
        # The resolvers' errors are coded as they happen; the request's own (parse,
        # validation, variables) are coded here, as plain HTTP codes them.
        result.errors = [request_error(error, request_id=request_id) for error in result.errors]
    processed = await view.process_result(request, result)
    if result.errors:
        view._handle_errors(result.errors, processed)  # strawberry's error-logging hook
    return processed


def request_error(error: GraphQLError, *, request_id: str) -> GraphQLError:
    if error.path is not None or (error.extensions and "code" in error.extensions):
        return error
    if isinstance(error.original_error, (InvalidOperationTypeError, CannotGetOperationTypeError)):
        # The operation is not one this method may run (a mutation by GET), or the
        # document has several and none was named: the caller's to fix.
        return GraphQLError(error.message, extensions={"code": "BAD_REQUEST"})
    return classify(error, request_id=request_id)


async def write(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})
