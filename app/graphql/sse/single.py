"""GraphQL over Server-Sent Events, single connection mode (the graphql-sse protocol).

    PUT    /graphql                      201, text/plain: a reservation token
    GET    /graphql + token, Accept: text/event-stream
                                         200: the reservation's one event stream
    POST   /graphql + token, extensions.operationId
                                         202: the operation runs, its results go out
                                         on the stream as `next {id, payload}`, then
                                         `complete {id}`
    DELETE /graphql?operationId=... + token
                                         200: the operation stops (and completes)

The token travels in the `X-GraphQL-Event-Stream-Token` header or the `token` query
parameter. Status codes are the reference handler's (graphql-sse's handler.ts): 404 for
a missing or unknown token, 409 for a second stream on one reservation or an operation
id already running, 400 for a missing operation id or a document that cannot run, 406
for an Accept that the answer cannot satisfy.

A reservation belongs to whoever made it: the same Authorization header (or, without
one, the same client address) must come with every request that uses the token, and to
anyone else the token names nothing (404, not 403: it does not say that it exists).
Every operation is authorized on its own, from its own request, as in distinct mode,
and checks its rights again as it streams. A reservation holds one of the caller's
SSE_MAX_STREAMS slots and runs at most SSE_MAX_OPERATIONS operations; one whose stream
is not opened within SSE_RESERVATION_SECONDS expires with its operations, and one whose
stream closes ends with it. Reservations live in the process that made them: a load
balancer must send a client's requests to one instance (sticky sessions) in this mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncGenerator, Hashable
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Send
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from app.graphql.context import Context
from app.graphql.sse.reservations import Outbox, Reservation, Reservations
from app.graphql.sse.streams import (
    EVENT_STREAM,
    HEADERS,
    KEEPALIVE,
    TOO_MANY_SUBSCRIPTIONS,
    StreamSlots,
    accepts,
    caller_of,
    message,
    payload,
    request_data,
    wants_event_stream,
)
from app.web.streams import until_gone

if TYPE_CHECKING:
    from app.graphql.http import GraphQLApp

_log = logging.getLogger(__name__)
TOKEN_HEADER = "x-graphql-event-stream-token"
TOKEN_PARAM = "token"
_JSON = "application/json"


def stream_token(request: Request) -> str | None:
    """The reservation token a request names, if any."""
    return request.headers.get(TOKEN_HEADER) or request.query_params.get(TOKEN_PARAM) or None


def applies(request: Request) -> bool:
    """Whether a request belongs to single connection mode."""
    return request.method in {"PUT", "DELETE"} or stream_token(request) is not None


class Conflict(HTTPException):
    code = "CONFLICT"

    def __init__(self, reason: str) -> None:
        super().__init__(409, reason)


class NotAcceptable(HTTPException):
    code = "BAD_REQUEST"

    def __init__(self, answer: str) -> None:
        super().__init__(406, f"This request is answered with {answer}; accept it (or */*).")


class MethodNotAllowed(HTTPException):
    def __init__(self, reason: str, *, allow: str) -> None:
        super().__init__(405, reason)
        self.allow = allow


class TooManyOperations(HTTPException):
    code = TOO_MANY_SUBSCRIPTIONS

    def __init__(self, limit: int) -> None:
        super().__init__(
            429,
            f"Operation limit reached: a reserved event stream runs at most {limit} "
            "operations at once (SSE_MAX_OPERATIONS); stop one with DELETE first.",
        )


def owner_of(context: Context) -> Hashable:
    """Who a reservation belongs to: its credential (only a digest is kept), else the
    client's address."""
    if context.credential is not None:
        return ("credential", hashlib.sha256(context.credential.encode()).hexdigest())
    return ("address", context.meta.client_addr)


async def serve(
    view: GraphQLApp,
    request: Request,
    receive: Receive,
    send: Send,
    *,
    reservations: Reservations,
    slots: StreamSlots,
) -> None:
    """Answer one request of single connection mode.

    Raises HTTPException before any byte is sent; the caller turns it into the usual
    JSON error."""
    sub_response = Response()
    context = await view.get_context(request, response=sub_response)
    request_id = sub_response.headers["x-request-id"]
    owner = owner_of(context)
    if request.method == "PUT":
        response: Response = _reserve(request, context, owner, reservations, slots)
    else:
        reservation = reservations.find(stream_token(request), owner)
        if wants_event_stream(request):
            await _stream(reservation, receive, send, context, reservations, request_id)
            return
        if request.method == "DELETE":
            response = _stop(request, reservation)
        else:
            response = await _operate(view, request, context, reservation)
    response.headers["x-request-id"] = request_id
    await response(request.scope, receive, send)


def _reserve(
    request: Request,
    context: Context,
    owner: Hashable,
    reservations: Reservations,
    slots: StreamSlots,
) -> Response:
    if request.headers.get("accept") and not accepts(request, "*/*", "text/*", "text/plain"):
        raise NotAcceptable("text/plain (the reservation token)")
    if reservations.owns(stream_token(request), owner):
        # The reference client sends its last token again when it reconnects: while that
        # reservation lives it is refused, as the reference handler does. Otherwise the
        # token is always a new one of ours, never one the client chose.
        raise Conflict("Stream already registered: this token's reservation still lives.")
    settings = context.settings
    stack = contextlib.ExitStack()
    stack.enter_context(slots.hold(caller_of(context), settings.sse_max_streams))
    reservation = reservations.reserve(owner, stack.close, ttl=settings.sse_reservation_seconds)
    return PlainTextResponse(reservation.token, status_code=201)


async def _stream(
    reservation: Reservation,
    receive: Receive,
    send: Send,
    context: Context,
    reservations: Reservations,
    request_id: str,
) -> None:
    if reservation.streaming:
        raise Conflict("Stream already open: a reservation has one event stream at a time.")
    reservation.streaming = True
    if reservation.expiry is not None:
        reservation.expiry.cancel()
    headers = [*HEADERS, (b"x-request-id", request_id.encode())]
    client_left = True
    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # Some browsers show nothing of a stream until its first bytes.
        await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
        outcome = await until_gone(
            _write(reservation.outbox, send, context.settings.sse_keepalive_seconds),
            receive,
            log=_log,
            what="event stream",
            also=(reservation.ended.wait(),),
        )
        client_left = outcome.client_left
    except OSError:
        pass  # the client left before the stream began
    finally:
        # The stream is the reservation's life: when it closes, everything goes.
        await reservations.dispose(reservation)
    if not client_left:
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _write(outbox: Outbox, send: Send, keepalive: float) -> None:
    while True:
        item = await outbox.get(keepalive)
        await send({"type": "http.response.body", "body": item or KEEPALIVE, "more_body": True})


def _stop(request: Request, reservation: Reservation) -> Response:
    operation_id = request.query_params.get("operationId")
    if not operation_id:
        raise HTTPException(400, "Operation ID is missing: DELETE ...?operationId=<id>.")
    task = reservation.operations.pop(operation_id, None)
    if task is not None:
        task.cancel()  # it completes on the stream as it ends
    return Response(status_code=200)


async def _operate(
    view: GraphQLApp, request: Request, context: Context, reservation: Reservation
) -> Response:
    if request.method not in {"GET", "POST"}:
        raise MethodNotAllowed(
            "Single connection mode takes GET, POST, PUT and DELETE.",
            allow="GET, POST, PUT, DELETE",
        )
    if request.headers.get("accept") and not accepts(
        request, "*/*", "application/*", _JSON, "application/graphql-response+json"
    ):
        raise NotAcceptable(f"{_JSON} (the results go out on the event stream)")
    data = await request_data(view, request)
    operation_id = str((data.extensions or {}).get("operationId") or "")
    if not operation_id:
        raise HTTPException(400, "Operation ID is missing: send it as extensions.operationId.")
    if operation_id in reservation.operations:
        raise Conflict("Operation with ID already exists on this stream.")
    limit = context.settings.sse_max_operations
    if len(reservation.operations) >= limit:
        raise TooManyOperations(limit)
    reservation.operations[operation_id] = None
    # As plain HTTP: a mutation only with POST, so a link or a prefetch never writes.
    allowed = {OperationType.QUERY, OperationType.SUBSCRIPTION}
    if request.method == "POST":
        allowed.add(OperationType.MUTATION)
    context.validated = asyncio.Event()
    results = await view.schema.stream(
        data.query,
        variable_values=data.variables,
        context_value=context,
        operation_name=data.operation_name,
        operation_extensions=data.extensions,
        allowed_operation_types=allowed,
    )
    first = asyncio.ensure_future(anext(results))
    validated = asyncio.ensure_future(context.validated.wait())
    try:
        await asyncio.wait({first, validated}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        first.cancel()
        await _discard(results, first)
        reservation.operations.pop(operation_id, None)
        raise
    finally:
        validated.cancel()
    if not context.validated.is_set():
        # It was refused before it ran: parse or validation errors, or a mutation by GET.
        if _pending(reservation, operation_id):
            del reservation.operations[operation_id]
        await _discard(results, first)
        return await _refusal(view, request, first, context.request_id)
    if reservation.closed or not _pending(reservation, operation_id):
        # Stopped (DELETE) or its reservation ended while it was being validated.
        first.cancel()
        await _discard(results, first)
        return Response(status_code=204)
    reservation.operations[operation_id] = asyncio.create_task(
        _run(view, request, reservation, operation_id, results, first, context.request_id)
    )
    return Response(status_code=202)


def _pending(reservation: Reservation, operation_id: str) -> bool:
    """Whether the id is still reserved for the POST being validated."""
    return operation_id in reservation.operations and reservation.operations[operation_id] is None


async def _refusal(
    view: GraphQLApp, request: Request, first: asyncio.Future[Any], request_id: str
) -> Response:
    result = first.result()
    errors = getattr(result, "errors", None) or []
    if request.method == "GET" and any(
        isinstance(error.original_error, InvalidOperationTypeError) for error in errors
    ):
        raise MethodNotAllowed("A mutation is sent with POST, never GET.", allow="POST")
    body = await payload(view, request, result, request_id=request_id)
    return Response(orjson.dumps(body), 400, media_type=_JSON)


async def _discard(results: AsyncGenerator[Any, None], first: asyncio.Future[Any]) -> None:
    with contextlib.suppress(BaseException):
        await first
    await results.aclose()


async def _run(
    view: GraphQLApp,
    request: Request,
    reservation: Reservation,
    operation_id: str,
    results: AsyncGenerator[Any, None],
    first: asyncio.Future[Any],
    request_id: str,
) -> None:
    """Stream one operation's results to its reservation, then its `complete`."""
    outbox = reservation.outbox
    try:
        async with contextlib.aclosing(results):
            try:
                result = await first
            except StopAsyncIteration:
                return
            while True:
                body = await payload(view, request, result, request_id=request_id)
                data = {"id": operation_id, "payload": body}
                await outbox.put(message("next", data))
                try:
                    result = await anext(results)
                except StopAsyncIteration:
                    return
    except Exception:
        # A bug, not the client: the operation just completes, the log says why.
        _log.exception("single connection operation failed")
    finally:
        if reservation.operations.get(operation_id) is asyncio.current_task():
            del reservation.operations[operation_id]
        if not reservation.closed:
            outbox.put_nowait(message("complete", {"id": operation_id}))


__all__ = ["EVENT_STREAM", "Reservations", "applies", "serve", "stream_token"]
