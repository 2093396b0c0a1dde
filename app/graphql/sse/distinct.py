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
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Send
from strawberry.types.graphql import OperationType

from app.graphql.sse.streams import (
    HEADERS,
    KEEPALIVE,
    StreamSlots,
    caller_of,
    message,
    payload,
    request_data,
    write,
)
from app.web.streams import until_gone

if TYPE_CHECKING:
    from app.graphql.http import GraphQLApp

_log = logging.getLogger(__name__)
_COMPLETE = b"event: complete\ndata: \n\n"


async def serve(
    view: GraphQLApp, request: Request, receive: Receive, send: Send, *, slots: StreamSlots
) -> None:
    """Answer one graphql-sse request (distinct connections mode).

    Raises HTTPException (401, 400, 429) before any byte is sent; the caller turns it
    into the usual JSON error."""
    sub_response = Response()
    context = await view.get_context(request, response=sub_response)
    settings = context.settings
    data = await request_data(view, request)
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
        headers = [*HEADERS, *(h for h in sub_response.raw_headers if h[0] == b"x-request-id")]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"", "more_body": True})
        except OSError:
            return  # gone already: the operation never started
        # Cancelling the pump closes the operation's generator, which leaves the broker
        # and returns what it holds.
        outcome = await until_gone(
            _pump(view, request, results, send, settings.sse_keepalive_seconds, context.request_id),
            receive,
            log=_log,
            what="event stream",
        )
        if outcome.finished:
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _pump(
    view: GraphQLApp,
    request: Request,
    results: AsyncGenerator[Any, None],
    send: Send,
    keepalive: float,
    request_id: str,
) -> None:
    async with contextlib.aclosing(results):
        while True:
            step = asyncio.ensure_future(anext(results))
            try:
                while not step.done():
                    done, _ = await asyncio.wait({step}, timeout=keepalive)
                    if not done:
                        await write(send, KEEPALIVE)
            finally:
                if not step.done():
                    step.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await step
            try:
                result = step.result()
            except StopAsyncIteration:
                break
            await write(
                send, message("next", await payload(view, request, result, request_id=request_id))
            )
    await write(send, _COMPLETE)


__all__ = ["serve"]
