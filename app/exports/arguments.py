"""An export's `filter` and `orderBy`, checked exactly as the GraphQL connection checks
them: coerced by graphql-core against the schema's own input types (as variables of a
query would be, so a bad value gets the same BAD_USER_INPUT message), built into the
same Strawberry inputs, and turned into the query layer's `<Type>Where` by their
`to_query` (which raises the same BadInput)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
import strawberry
from graphql import OperationDefinitionNode, parse
from graphql.execution.values import get_variable_values
from strawberry.types.arguments import convert_argument

from app.errors import BadInput
from app.exports.kinds import Kind
from app.graphql.connections import ordering_of
from app.queries.keyset import Ordering

PARAMETERS = ("filter", "orderBy")
_EXAMPLES = {"filter": '{"status":["PAID"]}', "orderBy": '{"field":"TOTAL","direction":"DESC"}'}


def from_text(text: str | None, *, argument: str) -> object:
    """A query-string argument's JSON; absent and empty are null."""
    if text is None or not text.strip():
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadInput(
            f"`{argument}` must be JSON in the shape of the connection's `{argument}` "
            f"argument, e.g. {argument}={_EXAMPLES[argument]}.",
            field=argument,
        ) from None


class Arguments:
    """Checks arguments against one schema."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self.schema = schema
        self._operations: dict[str, OperationDefinitionNode] = {}

    def parse(self, kind: Kind, *, filter: object, order_by: object) -> tuple[Any, Ordering]:
        """(the kind's `<Type>Where` or None, the ordering), or BadInput."""
        operation = self._operation(kind)
        found = get_variable_values(
            self.schema._schema,
            operation.variable_definitions or (),
            {"filter": filter, "orderBy": order_by},
        )
        if isinstance(found, list):
            raise BadInput("; ".join(error.message for error in found))
        values = found.coerced
        registry, config = self.schema.schema_converter.scalar_registry, self.schema.config
        where = None
        if values.get("filter") is not None:
            where = convert_argument(
                values["filter"], kind.listing.filter_input, registry, config
            ).to_query()  # type: ignore[attr-defined]
        sort: Any = None
        if values.get("orderBy") is not None:
            sort = convert_argument(values["orderBy"], kind.listing.order_input, registry, config)
        listing = kind.listing
        return where, ordering_of(sort, keys=listing.sort_keys, default=listing.default_order)

    def _operation(self, kind: Kind) -> OperationDefinitionNode:
        operation = self._operations.get(kind.name)
        if operation is None:
            names = (_type_name(kind.listing.filter_input), _type_name(kind.listing.order_input))
            document = parse(f"query($filter: {names[0]}, $orderBy: {names[1]}) {{ __typename }}")
            definition = document.definitions[0]
            assert isinstance(definition, OperationDefinitionNode)
            operation = self._operations[kind.name] = definition
        return operation


@lru_cache(maxsize=8)
def arguments_for(schema: strawberry.Schema) -> Arguments:
    """The checker of `schema` (its prepared operations are kept with it)."""
    return Arguments(schema)


def _type_name(input_type: type[Any]) -> str:
    name: str = input_type.__strawberry_definition__.name
    return name
