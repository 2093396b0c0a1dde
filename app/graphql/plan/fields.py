"""How each planned leaf field is read from its record and written to the answer.

Records (app.queries) are what the loaders return; the Strawberry types build from them
with `from_record`. A leaf here reads the record's column, turns it into the value that
`from_record` would have put on the object (an enum member, Money), and serializes it
with the schema's own scalar or enum type, so the output is the executor's byte for byte
(tests/plan/test_fields.py checks every entry against `from_record`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
)

from app.graphql.orders.types import OrderStatus
from app.graphql.relay import to_global_id
from app.graphql.users.types import Role

Leaf = Callable[[Any, Any], Any]  # (record, the run's state) -> output value

# GraphQL type -> field -> (record attribute, the enum `from_record` makes of it).
LEAVES: Mapping[str, Mapping[str, tuple[str, type[Enum] | None]]] = {
    "User": {
        "email": ("email", None),
        "name": ("name", None),
        "role": ("role", Role),
        "createdAt": ("created_at", None),
        "updatedAt": ("updated_at", None),
        "version": ("version", None),
    },
    "Order": {
        "status": ("status", OrderStatus),
        "total": ("total", None),
        "createdAt": ("created_at", None),
        "updatedAt": ("updated_at", None),
        "version": ("version", None),
    },
    "OrderItem": {
        "quantity": ("quantity", None),
        "unitPrice": ("unit_price", None),
    },
    "Product": {
        "sku": ("sku", None),
        "name": ("name", None),
        "description": ("description", None),
        "price": ("price", None),
        "stock": ("stock", None),
        "createdAt": ("created_at", None),
        "updatedAt": ("updated_at", None),
        "version": ("version", None),
    },
}


def leaf_reader(object_type: GraphQLObjectType, field_name: str) -> Leaf | None:
    """A function (record, state) -> output value for a planned leaf, or None."""
    type_name = object_type.name
    if field_name == "id" and type_name in LEAVES:

        def global_id(record: Any, _: Any) -> Any:
            return to_global_id(type_name, record.id)

        return global_id
    entry = LEAVES.get(type_name, {}).get(field_name)
    if entry is None:
        return None
    attribute, enum = entry
    field_type = object_type.fields[field_name].type
    if not isinstance(field_type, GraphQLNonNull):
        return None  # every planned leaf is a non-null column
    named = field_type.of_type
    if enum is not None:
        assert isinstance(named, GraphQLEnumType)
        names = {member.value: named.serialize(member) for member in enum}

        def enum_value(record: Any, _: Any) -> Any:
            return names[getattr(record, attribute)]

        return enum_value
    assert isinstance(named, GraphQLScalarType)
    if named is GraphQLString or named is GraphQLInt:
        # text and int4 columns: graphql-core's serialize returns them unchanged.
        def column(record: Any, _: Any) -> Any:
            return getattr(record, attribute)

        return column
    serialize = named.serialize

    def scalar(record: Any, _: Any) -> Any:
        return serialize(getattr(record, attribute))

    return scalar
