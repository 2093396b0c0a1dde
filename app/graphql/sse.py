"""GraphQL over Server-Sent Events, distinct connections mode (the graphql-sse protocol).

Each operation is its own request: GET or POST with `Accept: text/event-stream`, the
usual GraphQL-over-HTTP parameters. The answer is `text/event-stream`: one `next`
event per result (a query or mutation has one, a subscription many), then `complete`.
Everything a request can be refused for before it runs (bad JSON, a bad credential, too
many streams) is an ordinary JSON error with a status; errors of the operation itself
(validation, UNAUTHENTICATED when the token expires, SLOW_CONSUMER) arrive as a `next`
event carrying them, then `complete`, as the protocol asks.

A comment line goes out every SSE_KEEPALIVE_SECONDS so proxies keep an idle stream
open. When the client goes away (`http.disconnect`, or a send that fails) the operation's
generator is closed at once: its broker subscriber, queue and any connection go with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Hashable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Send
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.graphql.context import Context
from app.graphql.events.sharing import spliced

if TYPE_CHECKING:
    from app.graphql.http import GraphQLApp

_log = logging.getLogger(__name__)
EVENT_STREAM = "text/event-stream"
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
_KEEPALIVE = b":\n\n"
_COMPLETE = b"event: complete\ndata: \n\n"
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    # A long-lived stream: never cached, never compressed or buffered on the way.
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


def wants_event_stream(request: Request) -> bool:
    """True for a GET or POST whose Accept names text/event-stream."""
    if request.method not in {"GET", "POST"}:
        return False
    accept = request.headers.get("accept", "")
    return any(part.split(";", 1)[0].strip().lower() == EVENT_STREAM for part in accept.split(","))


class TooManyStreams(HTTPException):
    """429: the caller already holds SSE_MAX_STREAMS streams on this worker."""

    code = TOO_MANY_SUBSCRIPTIONS

    def __init__(self, limit: int) -> None:
        super().__init__(
            429,
            f"Stream limit reached: a caller holds at most {limit} event streams at once "
            "(SSE_MAX_STREAMS); close one, or use a WebSocket, which carries many "
            "subscriptions on one connection.",
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


def next_event(payload: object) -> bytes:
    # orjson never writes a raw newline, so the JSON fits one `data:` line.
    return b"event: next\ndata: " + orjson.dumps(spliced(payload)) + b"\n\n"


async def serve(
    view: GraphQLApp, request: Request, receive: Receive, send: Send, *, slots: StreamSlots
) -> None:
    """Answer one graphql-sse request (distinct connections mode).

    Raises HTTPException (401, 400, 429) before any byte is sent; the caller turns it
    into the usual JSON error."""
    sub_response = Response()
    context = await view.get_context(request, response=sub_response)
    settings = context.settings
    data = await _request_data(view, request)
    # As plain HTTP: a mutation only with POST, so a link or a prefetch never writes.
    allowed = {OperationType.QUERY, OperationType.SUBSCRIPTION}
    if request.method == "POST":
        allowed.add(OperationType.MUTATION)
    with slots.hold(caller_of(context), settings.sse_max_streams):
        results = await view.schema.stream(
            data.query,
            variable_values=data.variables,
            context_value=context,
            operation_name=data.operation_name,
            operation_extensions=data.extensions,
            allowed_operation_types=allowed,
        )
        headers = [*_HEADERS, *(h for h in sub_response.raw_headers if h[0] == b"x-request-id")]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"", "more_body": True})
        except OSError:
            return  # gone already: the operation never started
        pump = asyncio.create_task(
            _pump(view, request, results, send, settings.sse_keepalive_seconds)
        )
        gone = asyncio.create_task(_disconnected(receive))
        try:
            await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, gone):
                task.cancel()
            # Cancelling the pump closes the operation's generator, which leaves the
            # broker and returns what it holds.
            await asyncio.gather(pump, gone, return_exceptions=True)
        failure = None if pump.cancelled() else pump.exception()
        if failure is not None and not isinstance(failure, OSError):
            # A bug, not a client that left: the stream just ends, the log says why.
            _log.error("event stream failed", exc_info=failure)
        if pump.done() and not pump.cancelled() and failure is None:
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _request_data(view: GraphQLApp, request: Request) -> GraphQLRequestData:
    adapter = view.request_adapter_class(request)
    try:
        data = await view.parse_http_body(adapter)
    except orjson.JSONDecodeError:
        raise HTTPException(400, "Unable to parse request body as JSON") from None
    if not isinstance(data, GraphQLRequestData):
        raise HTTPException(400, "An event stream carries one operation, not a batch.")
    return data


async def _pump(
    view: GraphQLApp,
    request: Request,
    results: AsyncGenerator[Any, None],
    send: Send,
    keepalive: float,
) -> None:
    async with contextlib.aclosing(results):
        while True:
            step = asyncio.ensure_future(anext(results))
            try:
                while not step.done():
                    done, _ = await asyncio.wait({step}, timeout=keepalive)
                    if not done:
                        await _write(send, _KEEPALIVE)
            finally:
                if not step.done():
                    step.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await step
            try:
                result = step.result()
            except StopAsyncIteration:
                break
            await _write(send, next_event(await _payload(view, request, result)))
    await _write(send, _COMPLETE)


async def _payload(view: GraphQLApp, request: Request, result: Any) -> object:
    if not isinstance(result, ExecutionResult):
        # An incremental-delivery frame (@defer/@stream): already in its wire shape.
        return getattr(result, "formatted", {})
    processed = await view.process_result(request, result)
    if result.errors:
        view._handle_errors(result.errors, processed)  # strawberry's error-logging hook
    return processed


async def _write(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _disconnected(receive: Receive) -> None:
    # The body has been read: what the server sends next is the client going away.
    while (await receive())["type"] != "http.disconnect":
        pass


__all__ = ["EVENT_STREAM", "StreamSlots", "TooManyStreams", "serve", "wants_event_stream"]
