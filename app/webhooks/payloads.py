"""What an endpoint receives: the event and its object, shaped by a subscription document.

Without a document of its own an endpoint gets the default document of the event's
topic (the event and the object, as the subscription types show them). A document of
its own is checked at registration (`check_document`) and executed for each event
through the schema, with the endpoint's owner as the viewer: its fields obey the same
read rules as any query of the owner's. The body is the Standard Webhooks shape:

    {"type": "order.created", "timestamp": "...", "data": {...}, "errors": [...]?}
"""

from __future__ import annotations

import inspect
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    validate,
)

from app.auth.viewer import Viewer
from app.errors import InvalidInput, OrdergraphError
from app.events.records import Event
from app.webhooks import topics

ROOT_FIELDS = {"orderEvents": "order", "productEvents": "product", "userEvents": "user"}
_EVENT = "cursor type occurredAt changedFields"
DEFAULT_DOCUMENTS = {
    "order": f"subscription {{ orderEvents {{ {_EVENT} "
    "node { id status total createdAt updatedAt version } } }",
    "product": f"subscription {{ productEvents {{ {_EVENT} "
    "node { id sku name description price stock createdAt updatedAt version } } }",
    "user": f"subscription {{ userEvents {{ {_EVENT} "
    "node { id email name role createdAt updatedAt version } } }",
}
MAX_DOCUMENT_LENGTH = 20_000
RECENT_RENDERINGS = 4096  # bodies kept for endpoints that share an owner and a document


def _problem(message: str) -> InvalidInput:
    return InvalidInput.one("query", "INVALID_DOCUMENT", message)


@lru_cache(maxsize=256)
def parsed(document: str) -> DocumentNode:
    return parse(document)


def check_document(schema: GraphQLSchema, document: str) -> str:
    """The topic a payload document is about; INVALID_DOCUMENT when it is not a valid
    subscription with one event field (orderEvents, productEvents or userEvents), no
    arguments and no variables."""
    if len(document) > MAX_DOCUMENT_LENGTH:
        raise _problem(f"The document is longer than {MAX_DOCUMENT_LENGTH} characters.")
    try:
        tree = parse(document)
    except GraphQLError as exc:
        raise _problem(f"Syntax error: {exc.message}") from None
    errors = validate(schema, tree)
    if errors:
        raise _problem("; ".join(error.message for error in errors[:5]))
    operations = [d for d in tree.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        raise _problem("The document must hold exactly one subscription operation.")
    operation = operations[0]
    if operation.variable_definitions:
        raise _problem("A payload document takes no variables.")
    fields = operation.selection_set.selections
    if len(fields) != 1 or not isinstance(fields[0], FieldNode):
        raise _problem("Select exactly one event field: orderEvents, productEvents or userEvents.")
    root = fields[0]
    if root.arguments:
        raise _problem(f"`{root.name.value}` takes no arguments here: use the webhook's filter.")
    return ROOT_FIELDS[root.name.value]


def envelope(*, type: str, data: Any, errors: list[dict[str, Any]] | None = None) -> bytes:
    body: dict[str, Any] = {"type": type, "timestamp": datetime.now(UTC).isoformat(), "data": data}
    if errors:
        body["errors"] = errors
    return orjson.dumps(body)


def ping(webhook_id: str) -> bytes:
    return envelope(type=topics.PING, data={"webhookId": webhook_id})


class Renderer:
    """Executes payload documents through the schema, as their endpoint's owner."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        context: Callable[[Viewer], Any],
        roots: dict[str, Callable[[Event], object]],
    ) -> None:
        self.schema = schema
        self.context = context
        self.roots = roots
        self._recent: OrderedDict[tuple[str, int, Viewer], bytes] = OrderedDict()

    async def render(self, event: Event, *, document: str | None, owner: Viewer) -> bytes:
        """The body for `event` under `document`, as `owner` may see it. Endpoints of the
        same owner with the same document share one rendering per event (a burst to
        ten such endpoints executes once); endpoints of different owners never do."""
        text = document or DEFAULT_DOCUMENTS[event.topic]
        key = (text, event.position, owner)
        body = self._recent.get(key)
        if body is not None:
            self._recent.move_to_end(key)
            return body
        body, clean = await self._execute(event, text, owner)
        if clean:  # a rendering with errors is done again on the next attempt
            self._recent[key] = body
            if len(self._recent) > RECENT_RENDERINGS:
                self._recent.popitem(last=False)
        return body

    async def _execute(self, event: Event, document: str, owner: Viewer) -> tuple[bytes, bool]:
        tree = parsed(document)
        result = execute(
            self.schema,
            tree,
            root_value=self.roots[event.topic](event),
            context_value=self.context(owner),
        )
        if inspect.isawaitable(result):
            result = await result
        data = next(iter(result.data.values())) if result.data else None
        errors = [_error(error) for error in result.errors or ()]
        return envelope(type=topics.event_type(event), data=data, errors=errors), not errors


def _error(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    code = original.code if isinstance(original, OrdergraphError) else "INTERNAL"
    message = original.message if isinstance(original, OrdergraphError) else "Internal error."
    return {"message": message, "path": error.path, "extensions": {"code": code}}


def request_id(webhook_id: uuid.UUID) -> str:
    return f"webhook-{webhook_id}"
