"""The plain-field fast path answers exactly as graphql-core's own path, errors included,
and is really taken."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.graphql.execution import PlainFieldsExecutionContext, read_from


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    name: str
    size: int | None
    colour: Colour


@strawberry.type
class Branch:
    label: str
    leaf: Leaf
    maybe_leaf: Leaf | None
    leaves: list[Leaf]
    loaded: list[str] = field(default_factory=list)
    filled: strawberry.Private[list[Leaf] | None] = None

    @strawberry.field(description="Loads unless prefetched.", metadata=read_from("filled"))
    def lazy_leaves(self) -> list[Leaf]:
        self.loaded.append("lazy_leaves")
        return [Leaf(name="loaded", size=0, colour=Colour.BLUE)]

    @strawberry.field
    async def later(self) -> Leaf:
        return self.leaf


def leaf(name: str, size: int | None = 1, colour: Any = Colour.RED) -> Leaf:
    return Leaf(name=name, size=size, colour=colour)


@dataclass
class Fixture:
    branches: list[Branch]


FIXTURE = Fixture([])


@strawberry.type
class Query:
    @strawberry.field
    def branches(self) -> list[Branch]:
        return FIXTURE.branches


async def execute(context_class: type, query: str, branches: list[Branch]) -> dict[str, Any]:
    FIXTURE.branches = branches
    schema = strawberry.Schema(query=Query, execution_context_class=context_class)
    result = await schema.execute(query)
    errors = [{"message": e.message, "path": e.path} for e in result.errors or []]
    return {"data": result.data, "errors": errors}


def good() -> list[Branch]:
    return [
        Branch(
            label=f"b{i}",
            leaf=leaf(f"l{i}"),
            maybe_leaf=None if i % 2 else leaf("m", None, Colour.BLUE),
            leaves=[leaf(f"x{i}{j}", j) for j in range(3)],
        )
        for i in range(3)
    ]


def broken_leaf() -> list[Branch]:
    branches = good()
    branches[1].leaves[2] = Leaf(name=None, size=1, colour=Colour.RED)  # type: ignore[arg-type]
    return branches


def bad_enum() -> list[Branch]:
    branches = good()
    branches[0].leaf = leaf("bad", 1, "green")
    return branches


def wrong_object() -> list[Branch]:
    branches = good()
    branches[2].maybe_leaf = "not a leaf"  # type: ignore[assignment]
    return branches


def missing_object() -> list[Branch]:
    branches = good()
    branches[0].leaf = None  # type: ignore[assignment]
    return branches


QUERY = """{
  branches {
    label __typename
    leaf { name size colour }
    again: leaf { name }
    maybeLeaf { name size colour }
    leaves { name size ... on Leaf { colour } }
    lazyLeaves { name }
    later { name }
    skipped: label @skip(if: true)
    ...B
  }
}
fragment B on Branch { leaf { size } }"""


@pytest.mark.parametrize("branches", [good, broken_leaf, bad_enum, wrong_object, missing_object])
async def test_same_answer_and_errors_as_graphql_core(branches: Any) -> None:
    fast = await execute(PlainFieldsExecutionContext, QUERY, branches())
    stock = await execute(StrawberryGraphQLCoreExecutionContext, QUERY, branches())
    assert fast == stock
    if branches is not good:
        assert fast["errors"], "the broken value must be reported"


class Counting(PlainFieldsExecutionContext):
    resolved: list[str] = []

    def execute_field(self, parent_type: Any, source: Any, details: Any, *args: Any) -> Any:
        Counting.resolved.append(f"{parent_type.name}.{details[0].node.name.value}")
        return super().execute_field(parent_type, source, details, *args)


async def test_plain_fields_skip_graphql_cores_field_machinery() -> None:
    Counting.resolved = []
    await execute(
        Counting, "{ branches { label leaf { name } leaves { size } later { name } } }", good()
    )
    # Only fields with resolvers go through execute_field: plain reads do not.
    assert sorted(set(Counting.resolved)) == ["Branch.later", "Query.branches"]


async def test_a_prefetched_field_reads_its_attribute_and_resolves_only_when_empty() -> None:
    branches = good()
    branches[0].filled = [leaf("prefetched")]
    data = await execute(
        PlainFieldsExecutionContext, "{ branches { lazyLeaves { name } } }", branches
    )
    names = [[item["name"] for item in b["lazyLeaves"]] for b in data["data"]["branches"]]
    assert names == [["prefetched"], ["loaded"], ["loaded"]]
    assert [b.loaded for b in branches] == [[], ["lazy_leaves"], ["lazy_leaves"]]
