"""One execution per event, document and viewer class, not one per subscriber.

A thousand dashboards subscribed with the same document receive the same event: each
used to execute the selection set and encode the result for itself. Here the first
subscriber to reach an event executes it, and the others with the same document,
variables and viewer class take its result, already encoded to JSON once
(`SharedData.encoded`); the transports splice those bytes into each subscriber's frame,
which differs only in the operation id.

What stays per subscriber: whether it receives the event at all (the subscription's
`wanted` test, made with its own viewer, in the broker), its credential checks, its
order and queue. The share only decides how the payload of an event the subscriber may
see is computed.

The viewer class, the safety rule:
- The root value must be a function of the event alone: the event types
  (app.graphql.events.types) say so with an `event_position`; anything else is executed
  for each subscriber as before.
- An execution in which no resolver ran below the subscription field (only fields read
  from the event's own snapshot with getattr, and `__typename`) never looked at the
  viewer or the database: its result is the same for everyone, and is shared with any
  viewer who is sent the event.
- An execution in which a resolver ran may depend on the viewer (a field's own rules) and
  on the database: it is shared only with the same viewer (role and user), and only
  for SHARE_SECONDS, so an event still shows the data as it is when delivered.
- A result with errors is never shared: each subscriber executes, and its errors are
  its own.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any, NamedTuple, cast
from weakref import WeakKeyDictionary

import orjson
from graphql import ExecutionResult, GraphQLObjectType, GraphQLSchema, OperationType, Undefined
from graphql.language import FieldNode, VariableNode, Visitor, visit
from graphql.pyutils import Path
from strawberry.resolvers import is_default_resolver
from strawberry.types.field import StrawberryField

from app.graphql.execution import PlainFieldsExecutionContext

# How long a result that ran resolvers is shared with the same viewer: the subscribers
# of one fan-out, not a later delivery of the same event.
SHARE_SECONDS = 0.5
# Results kept per schema: a few recent events times the distinct documents in use.
MAX_ENTRIES = 4096
ANY_VIEWER = ("any",)
# The executor of the subscription being set up in this task, for its resolver's
# stream (the fast path executes events with it: app.graphql.events.fast).
subscribing: ContextVar[SharingExecutionContext | None] = ContextVar("subscribing", default=None)
# Executions the fast path started that turned out to await (ran resolvers): finished
# in the background, their results are nobody's.
_LEFT_RUNNING: set[asyncio.Future[Any]] = set()


class SharedData(dict[str, Any]):
    """A result's data, shared by every subscriber it went to. Its JSON is encoded once,
    on first use. Never mutate it."""

    __slots__ = ("_encoded",)

    @property
    def encoded(self) -> bytes:
        try:
            return self._encoded
        except AttributeError:
            self._encoded: bytes = orjson.dumps(self)
            return self._encoded


def spliced(payload: object) -> object:
    """A result payload ready for orjson, with shared data as its pre-encoded bytes."""
    if isinstance(payload, dict):
        data = payload.get("data")
        if isinstance(data, SharedData):
            return {**payload, "data": orjson.Fragment(data.encoded)}
    return payload


class Shareable(NamedTuple):
    """What `shared_with_anyone` found: the result's JSON when any viewer may have it,
    whether this document's results can be so at all (no resolver ran), and whether it
    was executed for the asking."""

    encoded: bytes | None
    document: bool
    executed: bool


def _encoded(result: ExecutionResult) -> bytes | None:
    data = result.data
    return data.encoded if isinstance(data, SharedData) else None


class SharedResults:
    """This schema's recent shared results, and counters to see the sharing work."""

    def __init__(self) -> None:
        self.entries: OrderedDict[tuple[object, ...], _Entry] = OrderedDict()
        self.executions = 0  # event executions made (one per share, or per subscriber)
        self.shared = 0  # deliveries that took another subscriber's result
        self.direct = 0  # deliveries written on the fast path (app.graphql.events.fast)
        # Documents (with variables) whose result was once shared with any viewer.
        self.pure_documents: dict[tuple[object, ...], None] = {}

    def find(self, key: tuple[object, ...]) -> _Entry | None:
        entry = self.entries.get(key)
        expires_at = entry.expires_at if entry is not None else None
        if expires_at is not None and time.monotonic() > expires_at:
            del self.entries[key]
            return None
        return entry

    def put(self, key: tuple[object, ...], entry: _Entry) -> None:
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > MAX_ENTRIES:
            self.entries.popitem(last=False)

    def drop(self, key: tuple[object, ...], entry: _Entry) -> None:
        if self.entries.get(key) is entry:
            del self.entries[key]


class _Entry:
    __slots__ = ("expires_at", "pending", "result")

    def __init__(self, *, pending: asyncio.Future[ExecutionResult | None] | None = None) -> None:
        self.result: ExecutionResult | None = None
        self.pending = pending
        self.expires_at: float | None = None


class _Taken:
    """Stands in for a per-event executor when the event's result is shared."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return ExecutionResult(self.result.data, None)


_RESULTS: WeakKeyDictionary[GraphQLSchema, SharedResults] = WeakKeyDictionary()


def shared_results(schema: GraphQLSchema) -> SharedResults:
    """The shared results of this schema (each schema its own, so schemas built with
    other settings never share)."""
    found = _RESULTS.get(schema)
    if found is None:
        found = _RESULTS[schema] = SharedResults()
    return found


_SOURCE_ONLY: WeakKeyDictionary[GraphQLObjectType, dict[str, bool]] = WeakKeyDictionary()


def _reads_only_its_source(parent_type: GraphQLObjectType, name: str) -> bool:
    """Whether the field's value is read from its parent object alone: `__typename`, or
    a field Strawberry reads with getattr (no resolver, arguments, permission classes,
    field extensions or directives). Such a field never sees the viewer."""
    known = _SOURCE_ONLY.setdefault(parent_type, {})
    found = known.get(name)
    if found is None:
        field = parent_type.fields.get(name)
        definition = field.extensions.get("strawberry-definition") if field else None
        found = name == "__typename" or (
            field is not None
            and isinstance(definition, StrawberryField)
            and not field.args
            and definition.is_basic_field
            and definition.default_resolver is getattr
            and not definition.metadata
            and not definition.extensions
            and not definition.permission_classes
            and not definition.directives
            and is_default_resolver(field.resolve)
        )
        known[name] = found
    return found


class SharingExecutionContext(PlainFieldsExecutionContext):
    """PlainFieldsExecutionContext that shares subscription event results."""

    # Set False by the per-event executor when a resolver runs below the root field.
    _pure = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shared by the per-event copies graphql-core makes of this executor.
        self._document: list[tuple[object, ...] | None] = []

    def execute_field(
        self,
        parent_type: Any,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        # The fast path reads plain fields without coming here; what comes here below
        # the subscription field is a resolver (or graphql-core's path for an odd value).
        if path.prev is not None and not _reads_only_its_source(
            parent_type, field_details_list[0].node.name.value
        ):
            self._pure = False
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def build_resolve_info(
        self, field_def: Any, field_nodes: Any, parent_type: Any, path: Path
    ) -> Any:
        if (
            path.prev is None
            and self.operation.operation is OperationType.SUBSCRIPTION
            and getattr(self.root_value, "event_position", None) is None
        ):
            subscribing.set(self)  # the operation's own executor, not an event's copy
        return super().build_resolve_info(field_def, field_nodes, parent_type, path)

    def document_key(self) -> tuple[object, ...] | None:
        """What subscribers must have in common to share a result (None: never)."""
        return self._document_key()

    def shared_with_anyone(self, payload: Any) -> Shareable:
        """The event `payload`'s result as JSON when it may go to any viewer sent the
        event: executed here, synchronously, unless already shared."""
        found = self._share(payload)
        if found is None:
            return Shareable(None, document=False, executed=False)
        results, any_key, _, entry = found
        if entry is not None and entry.result is not None and entry.expires_at is None:
            return Shareable(_encoded(entry.result), document=True, executed=False)
        if any_key[0] not in results.pure_documents:
            # Not known to run no resolver: the usual way first (which may show it does).
            return Shareable(None, document=True, executed=False)
        outcome = self.build_per_event_executor(payload).execute_operation(False)
        if self.is_awaitable(outcome):
            # A resolver ran: not for anyone. Finished in the background (its share
            # for this viewer is still good), nobody waits for it here.
            running = asyncio.ensure_future(outcome)
            _LEFT_RUNNING.add(running)
            running.add_done_callback(_LEFT_RUNNING.discard)
            return Shareable(None, document=False, executed=True)
        if outcome.errors:
            # This event only: each subscriber executes, and its errors are its own.
            return Shareable(None, document=True, executed=True)
        entry = results.find(any_key)
        if entry is None or entry.result is None:
            return Shareable(None, document=False, executed=True)
        return Shareable(_encoded(entry.result), document=True, executed=True)

    def build_per_event_executor(self, payload: Any) -> Any:
        # A result already shared needs no executor of its own (graphql-core copies
        # this one for every event and subscriber).
        found = self._share(payload)
        if found is not None and found[3] is not None and found[3].result is not None:
            found[0].shared += 1
            return _Taken(found[3].result)
        return super().build_per_event_executor(payload)

    def _share(
        self, root: Any
    ) -> tuple[SharedResults, tuple[object, ...], tuple[object, ...], _Entry | None] | None:
        """Where this subscriber's result for the event `root` is shared, and what is
        there; None when it is not shared at all."""
        position = getattr(root, "event_position", None)
        if position is None or self.operation.operation is not OperationType.SUBSCRIPTION:
            return None
        document = self._document_key()
        viewer = getattr(self.context_value, "viewer", None)
        if document is None or viewer is None:
            return None
        results = shared_results(self.schema)
        any_key = (document, position, ANY_VIEWER)
        own_key = (document, position, (viewer.role, viewer.user_id))
        return results, any_key, own_key, results.find(any_key) or results.find(own_key)

    def execute_operation(self, serially: bool | None = None) -> Any:
        found = self._share(self.root_value)
        if found is None:
            return super().execute_operation(serially)
        results, any_key, own_key, entry = found
        if entry is not None:
            if entry.result is not None:
                results.shared += 1
                return ExecutionResult(entry.result.data, None)
            if entry.pending is not None:
                return self._await_share(entry.pending, serially)
        results.executions += 1
        self._pure = True
        outcome = super().execute_operation(serially)
        if not self.is_awaitable(outcome):
            return self._keep(results, cast(ExecutionResult, outcome), any_key, own_key)
        pending: asyncio.Future[ExecutionResult | None] = asyncio.get_running_loop().create_future()
        waiting = _Entry(pending=pending)
        results.put(own_key, waiting)
        return self._finish(outcome, results, waiting, pending, any_key, own_key)

    async def _finish(
        self,
        outcome: Awaitable[ExecutionResult],
        results: SharedResults,
        waiting: _Entry,
        pending: asyncio.Future[ExecutionResult | None],
        any_key: tuple[object, ...],
        own_key: tuple[object, ...],
    ) -> ExecutionResult:
        result: ExecutionResult | None = None
        try:
            result = self._keep(results, await outcome, any_key, own_key, waiting=waiting)
            return result
        finally:
            results.drop(own_key, waiting)  # also when cancelled: nothing left pending
            if not pending.done():
                # Those waiting run on their own when there is nothing to share.
                shared = result if result is not None and result.errors is None else None
                pending.set_result(shared)

    async def _await_share(
        self, pending: asyncio.Future[ExecutionResult | None], serially: bool | None
    ) -> ExecutionResult:
        shared = await asyncio.shield(pending)
        if shared is not None:
            shared_results(self.schema).shared += 1
            return ExecutionResult(shared.data, None)
        shared_results(self.schema).executions += 1
        outcome = super().execute_operation(serially)
        done = await outcome if self.is_awaitable(outcome) else outcome
        return cast(ExecutionResult, done)

    def _keep(
        self,
        results: SharedResults,
        result: ExecutionResult,
        any_key: tuple[object, ...],
        own_key: tuple[object, ...],
        *,
        waiting: _Entry | None = None,
    ) -> ExecutionResult:
        if waiting is not None:
            results.drop(own_key, waiting)
        if result.errors or not isinstance(result.data, dict):
            return result
        data = SharedData(result.data)
        entry = _Entry()
        entry.result = ExecutionResult(data, None)
        if self._pure:
            results.put(any_key, entry)
            pure = results.pure_documents
            if len(pure) >= MAX_ENTRIES:
                pure.clear()
            pure[cast(tuple[object, ...], any_key[0])] = None
        else:
            entry.expires_at = time.monotonic() + SHARE_SECONDS
            results.put(own_key, entry)
        return ExecutionResult(data, None)

    def _document_key(self) -> tuple[object, ...] | None:
        """The document, operation and the variables its selection reads (not those
        only the subscription's own arguments read: `after` differs per subscriber
        and changes nothing in a payload). None: do not share."""
        memo = self._document
        if not memo:
            memo.append(self._find_document_key())
        key = memo[0]
        if key is None:
            return None
        text, name, used = key
        assert isinstance(used, tuple)
        coerced = self.variable_values.coerced
        return (text, name, tuple((v, repr(coerced.get(v, Undefined))) for v in used))

    def _find_document_key(self) -> tuple[object, ...] | None:
        operation = self.operation
        if operation.loc is None or len(operation.selection_set.selections) != 1:
            return None
        root = operation.selection_set.selections[0]
        if not isinstance(root, FieldNode) or root.directives:
            return None
        used: set[str] = set()

        class Variables(Visitor):
            def enter_variable(self, node: VariableNode, *_: Any) -> None:
                used.add(node.name.value)

        if root.selection_set is not None:
            visit(root.selection_set, Variables())
        for fragment in self.fragments.values():
            visit(fragment.definition, Variables())
        name = operation.name.value if operation.name else None
        return (operation.loc.source.body, name, tuple(sorted(used)))


__all__ = [
    "SHARE_SECONDS",
    "Shareable",
    "SharedData",
    "SharedResults",
    "SharingExecutionContext",
    "shared_results",
    "spliced",
    "subscribing",
]
