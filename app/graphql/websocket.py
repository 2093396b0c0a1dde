"""strawberry's WebSocket adapter and protocol handlers: text frames, frames written
ready-made (the fast path), and a code on the subscription limit."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage

from app.graphql.context import Context
from app.graphql.events.sharing import SharedData, spliced

TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
# Graceful shutdown: "going away", which graphql-ws clients answer by reconnecting.
GOING_AWAY = 1001
GOING_AWAY_REASON = "Server shutting down: reconnect, resume with after"
# The graphql-transport-ws operation this task runs (its subscription's fast path
# writes frames for it: app.graphql.events.fast).
current_operation: ContextVar[Operation[Context, None] | None] = ContextVar(
    "current_operation", default=None
)


class TextFrameAdapter(ASGIWebSocketAdapter):
    """Sends every message as a text frame.

    Both subprotocols define their messages as JSON text. strawberry sends whatever
    the view's encode_json returns, and ours returns bytes (orjson, for HTTP), which
    would go out as binary frames: a browser hands those to the page as a Blob and
    the reference graphql-ws client refuses them ("Message is missing the 'type'
    property").

    Frames `push`ed ready-made (the fast path) are written in order by a short-lived
    task, and every message sent otherwise waits until those pushed before it are out:
    an operation's `complete` or error never overtakes its events."""

    def __init__(self, view: Any, request: Any, response: Any) -> None:
        super().__init__(view, request, response)
        self._frames: deque[str] = deque()
        self._sending = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._gone = False
        sockets = getattr(view, "open_sockets", None)
        if sockets is not None:
            sockets.add(self)

    @property
    def outstanding(self) -> int:
        """Frames pushed and not yet handed to the server (a client that stops reading
        makes them pile up here, once the socket's buffers are full)."""
        return len(self._frames)

    def push(self, frame: str) -> None:
        """Send this text frame after those pushed or sent before it, without waiting."""
        if self._gone:
            return
        self._frames.append(frame)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_pushed())

    async def _write_pushed(self) -> None:
        try:
            async with self._sending:
                await self._flush()
        except WebSocketDisconnected:
            pass  # the connection's own handler sees the client go
        finally:
            self._writer = None

    async def _flush(self) -> None:
        frames = self._frames
        try:
            while frames:
                await self.ws.send_text(frames.popleft())
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            # RuntimeError: starlette's answer to a send after the close.
            self._gone = True
            frames.clear()
            raise WebSocketDisconnected from exc

    async def send_json(self, message: Mapping[str, object]) -> None:
        payload = message.get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("data"), SharedData):
            # An event result shared by many subscribers: its JSON is spliced in, not
            # encoded again for each.
            message = {**message, "payload": spliced(payload)}
        encoded = self.view.encode_json(message)
        text = encoded.decode() if isinstance(encoded, bytes) else encoded
        async with self._sending:
            await self._flush()
            try:
                await self.ws.send_text(text)
            except WebSocketDisconnect as exc:
                raise WebSocketDisconnected from exc

    async def go_away(self) -> None:
        """Close with 1001 after the frames already pushed (graceful shutdown)."""
        async with self._sending:
            with contextlib.suppress(WebSocketDisconnected):
                await self._flush()
            self._gone = True
            # RuntimeError: the socket had closed already (starlette's answer).
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.ws.close(GOING_AWAY, GOING_AWAY_REASON)


def open_sockets() -> weakref.WeakSet[TextFrameAdapter]:
    """A view's set of open WebSockets (each adapter adds itself), for shutdown."""
    return weakref.WeakSet()


async def go_away(sockets: weakref.WeakSet[TextFrameAdapter]) -> None:
    """Close every one of `sockets` with 1001, at once."""
    if sockets:
        await asyncio.gather(*(socket.go_away() for socket in list(sockets)))


def limit_error(limit: int) -> GraphQLError:
    return GraphQLError(
        f"Subscription limit reached: a connection runs at most {limit} operations at "
        "once (WS_MAX_SUBSCRIPTIONS); complete one, or open another connection.",
        extensions={"code": TOO_MANY_SUBSCRIPTIONS},
    )


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        current_operation.set(operation)  # in the operation's own task
        await super().run_operation(operation)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # The same test strawberry makes after its own checks (acknowledged, id not in
        # use), which it answers with an error that has no code.
        limit = self.max_subscriptions_per_connection
        if (
            limit is not None
            and self.connection_acknowledged
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [limit_error(limit).formatted]}
            )
            return
        await super().handle_subscribe(message)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """graphql-ws (the legacy subscriptions-transport-ws protocol)."""

    async def handle_start(self, message: StartMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            limit is not None
            and self.connection_acknowledged
            and message["id"] not in self.tasks
            and len(self.tasks) >= limit
        ):
            await self.send_message(
                {"type": "error", "id": message["id"], "payload": limit_error(limit).formatted}
            )
            return
        await super().handle_start(message)
