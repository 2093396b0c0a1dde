"""Which database an operation reads from, and the commit position it answers with.

A query over HTTP may read from a replica (chosen in the context, app.graphql.http);
a mutation and a subscription always read from the primary: a mutation's payload shows
its own write, and a subscription's replay and events follow the primary's log. A
request that committed answers with the primary's WAL position after its commit, in
`extensions.lsn` and the X-Ordergraph-LSN header; sending that header back makes later
reads wait for a replica that has it, or go to the primary (app.db.replicas).
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.db.engine import read_only
from app.db.replicas import format_lsn
from app.graphql.context import Context
from app.loaders import Loaders


class ReadRouting(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        if isinstance(context, Context) and execution.operation_type is not OperationType.QUERY:
            primary = context.writer.sync_engine.pool
            if context.loaders.engine.sync_engine.pool is not primary:
                context.loaders = Loaders(read_only(context.writer))
        yield

    def get_results(self) -> dict[str, object]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.commit_lsn is not None:
            return {"lsn": format_lsn(context.commit_lsn)}
        return {}
