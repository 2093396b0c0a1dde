"""The private parts of graphql-core and Strawberry the executor's fast path still uses
(app.graphql.execution: the read plan needs none of them), at the exact versions
pyproject.toml pins. Each test fails when the behaviour relied on changes, so an
upgrade starts here rather than with wrong answers."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import strawberry
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as ExecutionContext


def test_the_versions_are_the_pinned_ones() -> None:
    assert version("graphql-core") == "3.3.2"
    assert version("strawberry-graphql") == "0.341.2"


def test_execute_fields_still_takes_a_position_context() -> None:
    parameters = list(inspect.signature(ExecutionContext.execute_fields).parameters)
    assert parameters == [
        "self",
        "parent_type",
        "source_value",
        "path",
        "grouped_field_set",
        "position_context",
    ]
    assert "position_context" in inspect.signature(ExecutionContext.execute_field).parameters


def test_settle_in_background_still_takes_the_awaitables() -> None:
    parameters = list(inspect.signature(ExecutionContext.settle_in_background).parameters)
    assert parameters == ["self", "awaitables"]


@strawberry.type
class Leaf:
    name: str


@strawberry.type
class Query:
    @strawberry.field
    def leaves(self) -> list[Leaf]:
        return [Leaf(name="a")]


def test_collect_subfields_still_returns_fields_defer_usages_and_a_third() -> None:
    """execution.py unpacks `grouped, new_defer_usages, _ = self.collect_subfields(...)`
    as graphql-core itself does."""
    parameters = list(inspect.signature(ExecutionContext.collect_subfields).parameters)
    assert parameters == ["self", "return_type", "field_details_list"]
    source = inspect.getsource(ExecutionContext.collect_and_execute_subfields)
    assert "grouped_field_set, new_defer_usages, _forbidden = collected_subfields" in source


def test_is_default_resolver_still_reads_the_mark_strawberry_sets() -> None:
    schema = strawberry.Schema(query=Query)
    leaf = schema._schema.get_type("Leaf")
    resolve = leaf.fields["name"].resolve  # type: ignore[union-attr]
    assert is_default_resolver(resolve)
    assert getattr(resolve, "_is_default", False) is True
    query = schema._schema.query_type
    assert query is not None
    assert not is_default_resolver(query.fields["leaves"].resolve)
