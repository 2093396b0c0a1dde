"""No connection field below the root runs a statement per parent (no N+1).

The fields are found in the schema, so a connection added to any type is covered
without touching this test.
"""

from __future__ import annotations

import pytest
from graphql import GraphQLNamedType, GraphQLObjectType, GraphQLSchema, get_named_type

from app.graphql.schema import build_schema
from app.settings import Settings
from tests.conftest import Api

SCHEMA = build_schema(Settings())._schema
SIZES = (2, 10)  # parents; the seeded data has at least 10 of each


def is_connection(type_: GraphQLNamedType) -> bool:
    return isinstance(type_, GraphQLObjectType) and {"edges", "pageInfo"} <= set(type_.fields)


def nested_connections(schema: GraphQLSchema) -> list[tuple[str, str]]:
    """(type, field) for every connection-typed field of a type other than the roots."""
    roots = {schema.query_type, schema.mutation_type, schema.subscription_type}
    return sorted(
        (type_.name, name)
        for type_ in schema.type_map.values()
        if isinstance(type_, GraphQLObjectType)
        and type_ not in roots
        and not type_.name.startswith("__")
        for name, field in type_.fields.items()
        if is_connection(get_named_type(field.type))
    )


def root_list_of(schema: GraphQLSchema, type_name: str) -> str:
    """The root field that pages through `type_name`, to have many parents at once."""
    assert schema.query_type is not None
    for name, field in schema.query_type.fields.items():
        connection = get_named_type(field.type)
        if is_connection(connection):
            assert isinstance(connection, GraphQLObjectType)
            edge = get_named_type(connection.fields["edges"].type)
            assert isinstance(edge, GraphQLObjectType)
            if get_named_type(edge.fields["node"].type).name == type_name:
                return str(name)
    raise AssertionError(f"no root connection of {type_name}: teach this test to reach one")


def test_the_schema_has_nested_connections() -> None:
    # If the walk found nothing, the test below would pass vacuously.
    found = nested_connections(SCHEMA)
    assert ("User", "orders") in found
    assert ("Product", "history") in found


@pytest.mark.parametrize(("type_name", "field"), nested_connections(SCHEMA))
async def test_nested_connection_statements_do_not_grow_with_parents(
    api: Api, type_name: str, field: str
) -> None:
    root = root_list_of(SCHEMA, type_name)
    document = f"""query($parents: Int!) {{ {root}(first: $parents) {{ edges {{ node {{
        {field}(first: 2) {{ totalCount pageInfo {{ hasNextPage }} edges {{ node {{ id }} }} }}
    }} }} }} }}"""
    counts = []
    for parents in SIZES:
        data = await api.counted(document, {"parents": parents})
        assert len(data[root]["edges"]) == parents
        counts.append(len(api.statements.statements))
    # The same for 2 parents as for 10: a statement per level, not per parent.
    assert counts[0] == counts[1], (type_name, field, counts)
