"""Relay: global IDs, the Node interface, connections and their arguments."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Generic, TypeVar

import strawberry

from app.errors import BadInput
from app.graphql.cost import COUNT_WEIGHT, Cost
from app.graphql.execution import read_from
from app.queries.keyset import CursorCodec, Page, Window
from app.settings import Settings

NodeT = TypeVar("NodeT")
RecordT = TypeVar("RecordT")


def to_global_id(type_name: str, pk: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode())


def from_global_id(value: str, *, argument: str = "id") -> tuple[str, uuid.UUID]:
    """Split a global ID into (type name, primary key), or explain what is wrong."""
    try:
        type_name, _, pk = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
        return type_name, uuid.UUID(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadInput(
            f"`{argument}` is not an ID this API issued; pass an object's `id` unchanged.",
            field=argument,
        ) from None


def pk_of(value: str, type_name: str, *, argument: str = "id") -> uuid.UUID:
    """The primary key inside a global ID that must name a `type_name`."""
    found, pk = from_global_id(value, argument=argument)
    if found != type_name:
        raise BadInput(
            f"`{argument}` is the ID of a {found or 'unknown type'}; expected a {type_name} ID.",
            field=argument,
        )
    return pk


def _node_id(root: Node) -> strawberry.ID:
    return root.global_id


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID = strawberry.field(
        resolver=_node_id,
        description="Opaque global ID; pass it to node(id).",
        metadata=read_from("global_id"),
    )
    pk: strawberry.Private[uuid.UUID]

    @property
    def global_id(self) -> strawberry.ID:
        """Encoded only when asked for: many nodes are never asked their id."""
        return to_global_id(self.__strawberry_definition__.name, self.pk)  # type: ignore[attr-defined]


@strawberry.enum(description="Sort direction. Ties are always broken by id, same direction.")
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.type(description="Where a page sits in its connection.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def _edge_cursor(root: Edge[object]) -> str:
    return root.encoded_cursor


@strawberry.type(description="A node and the cursor that points at it.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(
        resolver=_edge_cursor,
        description="Opaque; pass as after/before to page from here.",
        metadata=read_from("encoded_cursor"),
    )
    node: NodeT
    codec: strawberry.Private[CursorCodec]
    sort_value: strawberry.Private[object]
    row_id: strawberry.Private[uuid.UUID]

    @property
    def encoded_cursor(self) -> str:
        """Encoded only when asked for: most queries never select an edge's cursor."""
        return self.codec.encode(self.sort_value, self.row_id)


@strawberry.type(description="A page of a list, with keyset cursors (Relay connection).")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="How many nodes match the filter in all; counted only when asked.",
        directives=[Cost(weight=COUNT_WEIGHT)],
    )
    async def total_count(self) -> int:
        return await self.count()


def build_connection(
    page: Page[RecordT],
    *,
    codec: CursorCodec,
    node: Callable[[RecordT], NodeT],
    count: Callable[[], Awaitable[int]],
) -> Connection[NodeT]:
    column = codec.ordering.key.column
    edges = [
        Edge(node=node(row), codec=codec, sort_value=getattr(row, column), row_id=row.id)  # type: ignore[attr-defined]
        for row in page.rows
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].encoded_cursor if edges else None,
            end_cursor=edges[-1].encoded_cursor if edges else None,
        ),
        count=count,
    )


def window_of(
    *,
    settings: Settings,
    codec: CursorCodec,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Window:
    """Check first/last against the limits and decode the cursors into a Window."""
    if first is not None and last is not None:
        raise BadInput("Pass either `first` or `last`, not both.", field="first")
    limit = settings.max_page_size
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= limit:
            raise BadInput(f"`{name}` must be between 0 and {limit}; got {size}.", field=name)
    return Window(
        ordering=codec.ordering,
        size=last
        if last is not None
        else first
        if first is not None
        else settings.default_page_size,
        backward=last is not None,
        after=codec.decode(after, argument="after") if after is not None else None,
        before=codec.decode(before, argument="before") if before is not None else None,
    )


First = Annotated[
    int | None,
    strawberry.argument(
        description="Page size from the start (or from `after`): 0..100, default 20."
    ),
]
Last = Annotated[
    int | None,
    strawberry.argument(description="Page size from the end (or from `before`): 0..100."),
]
After = Annotated[
    str | None, strawberry.argument(description="Cursor: return nodes after this one.")
]
Before = Annotated[
    str | None, strawberry.argument(description="Cursor: return nodes before this one.")
]
