"""The fast path: an event whose shared result is ready goes from the broker's dispatch
straight into each subscriber's WebSocket, as one ready-made text frame.

The usual path wakes each subscriber's task, which takes the event from its queue,
checks its rights, and passes it up through the subscription's generators to
strawberry, which executes it (or takes the shared result), builds the `next` message
and sends it. For a graphql-transport-ws subscription whose results may go to anyone
(app.graphql.events.sharing: no resolver ran), all of that comes to the same bytes for
every subscriber but the operation id. So here the broker, as it dispatches, executes
the event once per document and writes `{"id":…,"type":"next","payload":{"data":…}}`
into each wanted subscriber's connection (TextFrameAdapter.push), its task left asleep.

What stays as on the usual path, for each subscriber:
- whether it is sent the event at all: its own `wanted` test, in the broker;
- its rights: an event goes the usual way (which checks them again, or ends the
  subscription) once a credential check is due or the credential has expired;
- order: an event is taken here only while the subscriber's queue is empty and its task
  waits on it, and the connection writes what was pushed before any later message
  (`complete`, an error);
- SLOW_CONSUMER: a connection with SUBSCRIBER_QUEUE_SIZE frames still unwritten drops
  the subscriber, which then ends with the error as before;
- `after`: the replay goes the usual way; the fast path starts once the subscriber is
  live.
Everything else (a result with errors, a document whose results ran a resolver, the
legacy graphql-ws protocol, SSE, multipart, a cache trace asked for) goes the usual way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol
from weakref import WeakValueDictionary

import orjson

from app.events.broker import Subscriber
from app.events.records import Event
from app.graphql.caching import traces_cache
from app.graphql.context import Context
from app.graphql.events.sharing import SharedResults, shared_results, subscribing
from app.graphql.websocket import TextFrameAdapter, current_operation


class _Document:
    """The fast subscribers of one document (and variables): the latest event's JSON,
    made once for all of them."""

    __slots__ = ("__weakref__", "position", "text", "unshared", "usable")

    def __init__(self) -> None:
        self.position = -1
        self.text: str | None = None
        self.unshared = 0  # deliveries left that took the execution made for them
        self.usable = True  # False once a result ran a resolver: never again here


_DOCUMENTS: WeakValueDictionary[tuple[object, ...], _Document] = WeakValueDictionary()


class Rights(Protocol):
    def current(self) -> bool:
        """True while no credential check is due and the credential has not expired."""


def attach(
    subscriber: Subscriber,
    *,
    context: Context,
    rights: Rights,
    floor: int,
    root: Callable[[Event], object],
) -> None:
    """Let `subscriber` take its events on the fast path when it can (else nothing)."""
    operation = current_operation.get()
    executor = subscribing.get()
    if operation is None or executor is None or traces_cache(context):
        return
    adapter = operation.handler.websocket
    found = executor.document_key()
    if not isinstance(adapter, TextFrameAdapter) or found is None:
        return
    key = (executor.schema, *found)  # schemas built with other settings never share
    document = _DOCUMENTS.get(key)
    if document is None:
        document = _DOCUMENTS[key] = _Document()
    if not document.usable:
        return
    results = shared_results(executor.schema)
    prefix = '{"id":' + orjson.dumps(operation.id).decode() + ',"type":"next","payload":{"data":'
    operations = operation.handler.operations
    limit = subscriber.limit

    def direct(event: Event) -> bool:
        if event.position <= floor:
            return True  # the replay had it
        if operations.get(operation.id) is not operation or not rights.current():
            return False  # completing, or a check is due: the usual way decides
        text = _text(document, executor, results, root, event)
        if text is None:
            return False
        if adapter.outstanding >= limit:
            subscriber.overflow()
            return True
        adapter.push(prefix + text + "}}")
        results.direct += 1
        if document.unshared:
            document.unshared -= 1
        else:
            results.shared += 1
        return True

    subscriber.direct = direct  # which holds the document's entry while it lives


def _text(
    document: _Document,
    executor: Any,
    results: SharedResults,
    root: Callable[[Event], object],
    event: Event,
) -> str | None:
    if not document.usable:
        return None
    if document.position != event.position:
        found = executor.shared_with_anyone(root(event))
        document.position = event.position
        document.text = found.encoded.decode() if found.encoded is not None else None
        document.unshared = 1 if found.executed and found.encoded is not None else 0
        document.usable = found.document
    return document.text


__all__ = ["attach"]
