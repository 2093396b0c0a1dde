"""strawberry's WebSocket adapter and protocol handlers: text frames, and a code on the
subscription limit."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage

from app.graphql.context import Context
from app.graphql.events.sharing import SharedData, spliced

TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"


class TextFrameAdapter(ASGIWebSocketAdapter):
    """Sends every message as a text frame.

    Both subprotocols define their messages as JSON text. strawberry sends whatever
    the view's encode_json returns, and ours returns bytes (orjson, for HTTP), which
    would go out as binary frames: a browser hands those to the page as a Blob and
    the reference graphql-ws client refuses them ("Message is missing the 'type'
    property")."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        payload = message.get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("data"), SharedData):
            # An event result shared by many subscribers: its JSON is spliced in, not
            # encoded again for each.
            message = {**message, "payload": spliced(payload)}
        encoded = self.view.encode_json(message)
        text = encoded.decode() if isinstance(encoded, bytes) else encoded
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


def limit_error(limit: int) -> GraphQLError:
    return GraphQLError(
        f"Subscription limit reached: a connection runs at most {limit} operations at "
        "once (WS_MAX_SUBSCRIPTIONS); complete one, or open another connection.",
        extensions={"code": TOO_MANY_SUBSCRIPTIONS},
    )


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws."""

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
