"""Each operation its own context, and nothing of it kept once the operation ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from app.errors import Unauthenticated
from app.graphql.context import Context


class OperationContext(SchemaExtension):
    """An operation on a WebSocket runs on its own copy of the connection's context
    (strawberry hands every operation of a socket the same object): fresh loaders and
    memos, so operations sharing a connection never read one another's cached rows nor
    clear each other's, and the connection's credential checked again for this
    operation alone. A revoked or expired token, or a changed role, counts from the next
    operation on; a credential that fails refuses that operation with UNAUTHENTICATED,
    never runs it as anonymous, and leaves the operations already running as they are.

    When an operation ends its loaders and memos are dropped. graphql-core's executor is
    a reference cycle, and the context hangs off it: without this, everything the
    operation read waited for the cycle collector, and collecting hundreds of finished
    requests at once is a pause that shows in tail latency."""

    # Why this operation may not run (set per instance: extensions are made per operation).
    refusal: Unauthenticated | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        execution = self.execution_context
        shared = execution.context
        if isinstance(shared, Context) and isinstance(shared.request, WebSocket):
            # strawberry reads execution_context.context after this hook, to execute
            # and to subscribe, so the copy is what this operation's resolvers see.
            own = shared.for_operation()
            if own.credential is not None:
                try:
                    own.viewer = await own.authenticator.viewer(own.credential)
                except Unauthenticated as exc:
                    self.refusal = exc
            execution.context = own
        yield
        context = execution.context
        if isinstance(context, Context):
            context.loaders.clear()
            context.lookahead = {}
            context.shared_nodes = {}

    def on_validate(self) -> Iterator[None]:
        if self.refusal is not None:
            # Errors present when validation starts are the operation's verdict: no
            # validator runs, and the operation stops before it executes.
            self.execution_context.pre_execution_errors = [
                GraphQLError(self.refusal.message, extensions={"code": self.refusal.code})
            ]
        yield
        execution = self.execution_context
        context = execution.context
        # This hook wraps the other extensions' validation: their verdict is in by now.
        validated = context.validated if isinstance(context, Context) else None
        if validated is not None and not execution.pre_execution_errors:
            validated.set()
