"""Apollo's multipart HTTP subscriptions, the transport Apollo Client uses over HTTP.

A POST to /graphql with `Accept: multipart/mixed;subscriptionSpec="1.0"` answers with a
`multipart/mixed;boundary=graphql;subscriptionSpec=1.0` body: one JSON part per result,
`{"payload": {"data": ..., "errors": [...]}}`, and the empty part `{}` as a heartbeat,
once at the start and then every MULTIPART_HEARTBEAT_SECONDS (Apollo's spec asks for
one at least every 5 s). The body closes with the final delimiter when the
subscription ends; a coded error that ends it (SLOW_CONSUMER, UNAUTHENTICATED on
expiry or revocation) is its last payload, and a failure of the stream itself is sent
as Apollo's transport error, `{"payload": null, "errors": [...]}`.

The rules are the WebSocket path's: the Authorization header names the viewer (a bad
credential is a 401 before any stream), the subscription resolvers check the rights
again as they stream, `after` resumes. A viewer holds at most MULTIPART_MAX_STREAMS
streams per server process; one more is a 429 with TOO_MANY_SUBSCRIPTIONS.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send
from strawberry.http import GraphQLRequestData
from strawberry.http.streaming import MultipartSubscriptionTransport, merge_stream_with_heartbeat
from strawberry.subscriptions import MULTIPART_SUBSCRIPTION_PROTOCOL
from strawberry.types import SubscriptionExecutionResult

from app.graphql.context import Context
from app.graphql.websocket import TOO_MANY_SUBSCRIPTIONS

if TYPE_CHECKING:
    from app.graphql.http import GraphQLApp

log = logging.getLogger(__name__)

PROTOCOL = MULTIPART_SUBSCRIPTION_PROTOCOL
# Where execute_operation leaves the stream's slot for the response to release.
_SLOT = "og_multipart_slot"
_TRANSPORT = MultipartSubscriptionTransport()
# Proxies must pass each part on as it comes, not buffer or compress the stream.
_HEADERS = {"cache-control": "no-cache, no-transform", "x-accel-buffering": "no"}
_FAILED = {
    "payload": None,
    "errors": [
        {
            "message": "The subscription failed on the server; subscribe again.",
            "extensions": {"code": "INTERNAL"},
        }
    ],
}


class TooManyStreams(HTTPException):
    code = TOO_MANY_SUBSCRIPTIONS

    def __init__(self, limit: int) -> None:
        super().__init__(
            429,
            f"Subscription limit reached: a viewer holds at most {limit} multipart "
            "subscriptions at once (MULTIPART_MAX_STREAMS); end one, or use a WebSocket, "
            "which carries many on one connection.",
        )


def requested(request_data: GraphQLRequestData | list[GraphQLRequestData]) -> bool:
    """Whether the request asked for a multipart subscription stream."""
    return isinstance(request_data, GraphQLRequestData) and request_data.protocol == PROTOCOL


class StreamSlots:
    """The multipart streams each caller holds open in this process."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def take(self, context: Context) -> Callable[[], None]:
        """A slot for one more stream of this caller, or TooManyStreams. The returned
        function gives it back; calling it again does nothing."""
        key = _caller(context)
        limit = context.settings.multipart_max_streams
        if self._open[key] >= limit:
            raise TooManyStreams(limit)
        self._open[key] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open[key] -= 1
                if self._open[key] <= 0:
                    del self._open[key]

        return release

    def reserve(self, context: Context, sub_response: Response) -> None:
        """Take a slot for the stream this request will answer with."""
        setattr(sub_response, _SLOT, self.take(context))


def release(sub_response: Response) -> None:
    """Give back the slot reserved for this request, if any (it will not stream)."""
    getattr(sub_response, _SLOT, lambda: None)()


def _caller(context: Context) -> str:
    # Anonymous callers (productEvents is public) are told apart by address.
    if context.viewer.user_id is not None:
        return f"user:{context.viewer.user_id}"
    client = context.request.client
    return f"addr:{client.host if client else '-'}"


class MultipartResponse(StreamingResponse):
    """A stream that gives its slot back however it ends: completed, cut, or the
    client gone (starlette then cancels the body, which ends the subscription and
    leaves the broker)."""

    def __init__(self, body: AsyncGenerator[str, None], *, headers: dict[str, str]) -> None:
        super().__init__(body, status_code=200, headers=headers)
        self.release: Callable[[], None] = lambda: None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release()


def respond(
    view: GraphQLApp, request: Request, result: SubscriptionExecutionResult, sub_response: Response
) -> Response:
    """The streaming answer to a multipart subscription request."""
    encode = view.encode_json_string

    async def results() -> AsyncGenerator[str, None]:
        stream: Any = result
        try:
            async with contextlib.aclosing(stream):
                async for value in stream:
                    payload = await view.process_result(request, value)
                    yield _TRANSPORT.encode_next(payload, encode)
        except Exception:
            # Results carry the resolvers' coded errors; anything escaping here is ours.
            log.exception("multipart subscription failed")
            yield _TRANSPORT.encode_multipart_data(_FAILED, encode)

    merged = merge_stream_with_heartbeat(
        results,
        lambda: _TRANSPORT.heartbeat_message(encode),
        interval=request.app.state.settings.multipart_heartbeat_seconds,
        send_initial_heartbeat=True,
    )

    async def body() -> AsyncGenerator[str, None]:
        # Each part ends with the delimiter; "--" after the last one makes it the close.
        yield f"--{_TRANSPORT.separator}"
        async for chunk in merged():
            yield chunk
        yield "--\r\n"

    response = MultipartResponse(
        body(), headers={**sub_response.headers, **_TRANSPORT.headers, **_HEADERS}
    )
    response.release = getattr(sub_response, _SLOT, response.release)
    return response


__all__ = [
    "MultipartResponse",
    "StreamSlots",
    "TooManyStreams",
    "release",
    "requested",
    "respond",
]
