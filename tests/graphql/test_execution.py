"""The plain-field fast path answers exactly as graphql-core's own path, errors included,
and is really taken for plain fields (and only for them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

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


class Deny(BasePermission):
    message = "Denied."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Gauge:
    level: int | None
    unit: str

    @property
    def checked_reading(self) -> int:
        return 7

    @property
    def checked_code(self) -> str:
        return "G"

    @strawberry.field(metadata=read_from("checked_reading"))
    def reading(self) -> int | None:
        return self.checked_reading

    @strawberry.field(metadata=read_from("checked_code"))
    def code(self) -> str:
        return self.checked_code


class FlakyGauge:
    """Passes for a Gauge (no is_type_of checks it), but every getter raises."""

    def __init__(self, error: type[Exception]) -> None:
        self.error = error

    def fail(self) -> Any:
        raise self.error("the gauge is broken")

    level = property(fail)
    unit = property(fail)
    checked_reading = property(fail)
    checked_code = property(fail)


@strawberry.type
class Tagged:
    name: str

    @classmethod
    def is_type_of(cls, obj: Any, info: Info) -> bool:
        # Reads the resolve info: a fast path that passed none would fail here.
        return isinstance(obj, cls) and info.field_name != "refused"


@strawberry.type
class Branch:
    label: str
    leaf: Leaf
    maybe_leaf: Leaf | None
    leaves: list[Leaf]
    loaded: list[str] = field(default_factory=list)
    filled: strawberry.Private[list[Leaf] | None] = None
    secret: str | None = strawberry.field(default="hidden", permission_classes=[Deny])
    gauge: Gauge | None = None
    gauges: list[Gauge] | None = None
    tagged: Tagged | None = None
    tags: list[Tagged] = field(default_factory=list)
    refused: Tagged | None = None

    @strawberry.field(permission_classes=[Deny], metadata=read_from("label"))
    def guarded_label(self) -> str | None:
        return self.label

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
            gauge=Gauge(level=i, unit="kg"),
            gauges=[Gauge(level=j, unit="m") for j in range(2)],
            tagged=Tagged(name=f"t{i}"),
            tags=[Tagged(name="a"), Tagged(name="b")],
            refused=Tagged(name="r") if i == 1 else None,
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


def flaky(error: type[Exception]) -> Any:
    def branches() -> list[Branch]:
        branches = good()
        branches[1].gauge = FlakyGauge(error)  # type: ignore[assignment]
        branches[2].gauges = [Gauge(level=0, unit="m"), FlakyGauge(error)]  # type: ignore[list-item]
        return branches

    return branches


@pytest.mark.parametrize("branches", [good, broken_leaf, bad_enum, wrong_object, missing_object])
async def test_same_answer_and_errors_as_graphql_core(branches: Any) -> None:
    fast = await execute(PlainFieldsExecutionContext, QUERY, branches())
    stock = await execute(StrawberryGraphQLCoreExecutionContext, QUERY, branches())
    assert fast == stock
    if branches is not good:
        assert fast["errors"], "the broken value must be reported"


DENIED = "{ branches { label secret guardedLabel } }"
NULLABLE_GETTERS = "{ branches { label gauge { level reading } gauges { level reading } } }"
NON_NULL_GETTER = "{ branches { label gauge { unit } gauges { unit } } }"
NON_NULL_READ_FROM_GETTER = "{ branches { label gauge { code } gauges { code } } }"
ALL_GETTERS = "{ branches { gauge { level unit reading code } } }"
IS_TYPE_OF_READS_INFO = "{ branches { tagged { name } tags { name } refused { name } } }"


@pytest.mark.parametrize(
    ("query", "branches", "error_paths"),
    [
        (DENIED, good, [["branches", i, f] for i in range(3) for f in ("secret", "guardedLabel")]),
        (
            NULLABLE_GETTERS,
            flaky(ValueError),
            [
                ["branches", 1, "gauge", "level"],
                ["branches", 1, "gauge", "reading"],
                ["branches", 2, "gauges", 1, "level"],
                ["branches", 2, "gauges", 1, "reading"],
            ],
        ),
        (
            NON_NULL_GETTER,
            flaky(ValueError),
            [["branches", 1, "gauge", "unit"], ["branches", 2, "gauges", 1, "unit"]],
        ),
        (
            NON_NULL_READ_FROM_GETTER,
            flaky(ValueError),
            [["branches", 1, "gauge", "code"], ["branches", 2, "gauges", 1, "code"]],
        ),
        (
            ALL_GETTERS,
            flaky(AttributeError),
            [["branches", 1, "gauge", f] for f in ("level", "unit")],
        ),
        (IS_TYPE_OF_READS_INFO, good, [["branches", 1, "refused"]]),
    ],
    ids=[
        "permission-denied",
        "raising-nullable-getters",
        "raising-non-null-getter",
        "raising-non-null-read-from-getter",
        "getters-raising-attribute-error",
        "is-type-of-reads-info",
    ],
)
async def test_extensions_raising_getters_and_is_type_of_as_graphql_core(
    query: str, branches: Any, error_paths: list[list[Any]]
) -> None:
    fast = await execute(PlainFieldsExecutionContext, query, branches())
    stock = await execute(StrawberryGraphQLCoreExecutionContext, query, branches())
    assert fast == stock
    # Each error is where graphql-core puts it: at the field that failed, not its parent.
    assert [e["path"] for e in stock["errors"]] == error_paths


class Counting(PlainFieldsExecutionContext):
    resolved: list[str] = []

    def execute_field(self, parent_type: Any, source: Any, details: Any, *args: Any) -> Any:
        Counting.resolved.append(f"{parent_type.name}.{details[0].node.name.value}")
        return super().execute_field(parent_type, source, details, *args)


async def test_plain_fields_skip_graphql_cores_field_machinery() -> None:
    Counting.resolved = []
    await execute(
        Counting,
        "{ branches { label leaf { name } leaves { size } later { name }"
        " gauge { level reading } gauges { unit code } } }",
        good(),
    )
    # Only fields with resolvers go through execute_field: plain reads do not.
    assert sorted(set(Counting.resolved)) == ["Branch.later", "Query.branches"]


async def test_guarded_fields_take_graphql_cores_path() -> None:
    Counting.resolved = []
    await execute(
        Counting, "{ branches { secret guardedLabel tagged { name } tags { name } } }", good()
    )
    # A permission class, or an is_type_of that may read the info, needs the machinery.
    assert sorted(set(Counting.resolved)) == [
        "Branch.guardedLabel",
        "Branch.secret",
        "Branch.tagged",
        "Branch.tags",
        "Query.branches",
    ]


async def test_a_prefetched_field_reads_its_attribute_and_resolves_only_when_empty() -> None:
    branches = good()
    branches[0].filled = [leaf("prefetched")]
    data = await execute(
        PlainFieldsExecutionContext, "{ branches { lazyLeaves { name } } }", branches
    )
    names = [[item["name"] for item in b["lazyLeaves"]] for b in data["data"]["branches"]]
    assert names == [["prefetched"], ["loaded"], ["loaded"]]
    assert [b.loaded for b in branches] == [[], ["lazy_leaves"], ["lazy_leaves"]]
