"""A compiled plan, how it runs, and where plans are kept (beside their documents)."""

from __future__ import annotations

import asyncio
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    get_variable_values,
)

from app.errors import OrdergraphError
from app.graphql.context import Context
from app.graphql.documents import DocumentCaches
from app.graphql.plan.collect import Unplannable, condition_variables
from app.graphql.plan.compile import Compiler, Root
from app.graphql.plan.state import Fallback, State


class Plan:
    """The root fields of one operation, compiled for one set of @skip/@include values."""

    def __init__(self, roots: list[tuple[str, Root]]) -> None:
        self.roots = roots

    async def run(self, context: Context, variables: Any) -> dict[str, Any]:
        """The operation's `data`; Fallback when the executor must answer instead."""
        state = State(context, variables)
        try:
            for _, root in self.roots:
                for prepare in root.prepare:
                    prepare(state)
        except (OrdergraphError, GraphQLError) as error:
            raise Fallback(str(error)) from error
        fetches = [root.fetch([], state) for _, root in self.roots if root.fetch is not None]
        try:
            if len(fetches) == 1:
                await fetches[0]
            elif fetches:
                await asyncio.gather(*fetches)
            return {key: root.write(None, state) for key, root in self.roots}
        except Fallback:
            raise
        except Exception as error:
            # A read failed (the database, the cache): the executor reports it where
            # the field is, with the code it gives such errors.
            raise Fallback(repr(error)) from error


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    return None


class Plans:
    """The plans of one schema's documents, kept in its DocumentCaches."""

    def __init__(self, schema: GraphQLSchema, caches: DocumentCaches) -> None:
        self.schema = schema
        self.caches = caches

    def find(
        self, query: str, operation_name: str | None, inputs: dict[str, Any]
    ) -> tuple[Plan, Any] | None:
        """The plan for this request and its coerced variables, or None: the document
        is new or invalid (the executor parses and validates it first), or the plan
        does not cover it."""
        document = self.caches.ready(query)
        if document is None:
            return None
        plans = self.caches.plans
        head_key = (id(document), operation_name)
        head = plans.get(head_key)
        if head is None or head[0] is not document:
            operation = _operation(document, operation_name)
            conditions = condition_variables(document) if operation is not None else ()
            head = plans[head_key] = (document, (operation, conditions))
        operation, conditions = head[1]
        if operation is None:
            return None
        variables = get_variable_values(self.schema, operation.variable_definitions or (), inputs)
        if isinstance(variables, list):
            return None  # the executor reports the variables' errors
        key = (*head_key, tuple(variables.coerced.get(name) for name in conditions))
        entry = plans.get(key)
        if entry is None or entry[0] is not document:
            entry = plans[key] = (document, self._compile(document, operation, variables))
        plan = entry[1]
        return None if plan is None else (plan, variables)

    def _compile(
        self, document: DocumentNode, operation: OperationDefinitionNode, variables: Any
    ) -> Plan | None:
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        try:
            return Plan(Compiler(self.schema, fragments, variables).root(operation))
        except (Unplannable, GraphQLError):
            return None
