"""Root connections: arguments -> window -> one page query, count on demand.

Only for fields of Query: each call reads on a connection of its own. A connection under
a parent (User.orders, history) goes through a per-argument loader over
app.queries.lateral.PagesByParent instead, so a level of parents shares one statement;
tests/graphql/test_nested_connections.py fails for any that does not.

No `from __future__ import annotations` here: `list_field` builds a resolver whose
argument types are only known at run time, so its annotations must be real objects.
"""

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

import orjson
import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.viewer import Viewer
from app.graphql.caching import Cached, cached_value
from app.graphql.context import Context, Info
from app.graphql.cost import CONNECTION_SIZE
from app.graphql.relay import (
    After,
    Before,
    Connection,
    First,
    Last,
    SortDirection,
    build_connection,
    window_of,
)
from app.queries.keyset import CursorCodec, Ordering, Page, SortKey, Window
from app.services.audit import plain

NodeT = TypeVar("NodeT")
RecordT = TypeVar("RecordT")
FilterT = TypeVar("FilterT")


@dataclass(frozen=True, slots=True)
class PageArgs:
    first: int | None
    after: str | None
    last: int | None
    before: str | None


class OrderInput(Protocol):
    @property
    def field(self) -> Enum: ...

    @property
    def direction(self) -> SortDirection: ...


def ordering_of(
    order_by: OrderInput | None, *, keys: dict[str, SortKey], default: Ordering
) -> Ordering:
    if order_by is None:
        return default
    return Ordering(keys[order_by.field.name], descending=order_by.direction is SortDirection.DESC)


def paging(
    info: Info,
    *,
    entity: str,
    args: PageArgs,
    order_by: OrderInput | None,
    keys: dict[str, SortKey],
    default: Ordering,
) -> tuple[CursorCodec, Window]:
    codec = CursorCodec(entity, ordering_of(order_by, keys=keys, default=default))
    window = window_of(
        settings=info.context.settings,
        codec=codec,
        first=args.first,
        after=args.after,
        last=args.last,
        before=args.before,
    )
    return codec, window


@dataclass(frozen=True, slots=True)
class CachedConnection(Generic[RecordT]):
    """How a connection's pages and counts are cached (see app.graphql.caching)."""

    field: str
    hint: Cached
    tags: tuple[str, ...]
    decode_record: Callable[[dict[str, Any]], RecordT]

    def encode_page(self, page: Page[RecordT]) -> bytes:
        rows = [
            {f.name: plain(getattr(row, f.name)) for f in dataclasses.fields(row)}  # type: ignore[arg-type]
            for row in page.rows
        ]
        return orjson.dumps({"rows": rows, "next": page.has_next, "previous": page.has_previous})

    def decode_page(self, raw: bytes) -> Page[RecordT]:
        value = orjson.loads(raw)
        rows = [self.decode_record(row) for row in value["rows"]]
        return Page(rows, has_next=value["next"], has_previous=value["previous"])


async def root_connection(
    context: Context,
    *,
    codec: CursorCodec,
    window: Window,
    where: FilterT | None,
    fetch_page: Callable[..., Awaitable[Page[RecordT]]],
    fetch_count: Callable[..., Awaitable[int]],
    node: Callable[[RecordT], NodeT],
    cache: CachedConnection[RecordT] | None = None,
) -> Connection[NodeT]:
    loaders = context.loaders

    async def read_page(conn: AsyncConnection) -> Page[RecordT]:
        return await fetch_page(conn, where=where, window=window)

    async def read_count(conn: AsyncConnection) -> int:
        return await fetch_count(conn, where=where)

    if cache is None:
        page = await loaders.run(read_page)
        return build_connection(page, codec=codec, node=node, count=lambda: loaders.run(read_count))

    async def cached_count() -> int:
        return await cached_value(
            context,
            type_name="Query",
            field_name=f"{cache.field}.totalCount",
            parent_id=None,
            arguments={"where": where},
            hint=cache.hint,
            tags=list(cache.tags),
            compute=lambda: loaders.run(read_count),
            encode=lambda count: str(count).encode(),
            decode=lambda raw: int(raw),
        )

    page = await cached_value(
        context,
        type_name="Query",
        field_name=cache.field,
        parent_id=None,
        arguments={"where": where, "window": window},
        hint=cache.hint,
        tags=list(cache.tags),
        compute=lambda: loaders.run(read_page),
        encode=cache.encode_page,
        decode=cache.decode_page,
    )
    return build_connection(page, codec=codec, node=node, count=cached_count)


class FilterInput(Protocol):
    def to_query(self) -> Any: ...


LIST_SPEC = "og.list"


@dataclass(frozen=True, slots=True)
class ListSpec:
    """What a root list field reads and under which rules, kept in the field's metadata
    so that the planned read path (app.graphql.plan) runs the very same reads."""

    entity: str
    keys: dict[str, SortKey]
    default: Ordering
    fetch_page: Callable[..., Awaitable[Page[Any]]]
    fetch_count: Callable[..., Awaitable[int]]
    restrict: Callable[[Viewer, Any], Any]
    cache: CachedConnection[Any] | None
    has_prefetch: bool


def list_field(
    *,
    entity: str,
    node: Any,
    filter_input: type[FilterInput],
    order_input: type[OrderInput],
    keys: dict[str, SortKey],
    default: Ordering,
    fetch_page: Callable[..., Awaitable[Page[Any]]],
    fetch_count: Callable[..., Awaitable[int]],
    description: str,
    prefetch: Callable[[Info, list[Any]], Awaitable[None]] | None = None,
    restrict: Callable[[Viewer, Any], Any] = lambda viewer, where: where,
    cache: CachedConnection[Any] | None = None,
) -> Any:
    """A root list field: `name(first after last before filter orderBy): XConnection!`.

    `node` is the Strawberry type, built from each record by its `from_record`;
    `prefetch`, if given, loads the nodes' children for the whole page at once.
    `restrict(viewer, where)` narrows the query filter to what the viewer may see (or
    raises); it runs before anything is read, and the count obeys it too.
    """

    async def resolve(
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: filter_input | None = None,  # type: ignore[valid-type]
        order_by: order_input | None = None,  # type: ignore[valid-type]
    ) -> Connection[node]:
        codec, window = paging(
            info,
            entity=entity,
            args=PageArgs(first, after, last, before),
            order_by=order_by,
            keys=keys,
            default=default,
        )
        where = filter.to_query() if filter is not None else None
        connection = await root_connection(
            info.context,
            codec=codec,
            window=window,
            where=restrict(info.context.viewer, where),
            fetch_page=fetch_page,
            fetch_count=fetch_count,
            node=node.from_record,
            cache=cache,
        )
        if prefetch is not None:
            await prefetch(info, [edge.node for edge in connection.edges])
        return connection

    directives: list[object] = [CONNECTION_SIZE]
    if cache is not None:
        directives.append(cache.hint)
    spec = ListSpec(
        entity=entity,
        keys=keys,
        default=default,
        fetch_page=fetch_page,
        fetch_count=fetch_count,
        restrict=restrict,
        cache=cache,
        has_prefetch=prefetch is not None,
    )
    return strawberry.field(
        resolver=resolve,
        description=description,
        directives=directives,
        metadata={LIST_SPEC: spec},
    )
