"""Resolving root connections: arguments -> window -> one page query, count on demand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from app.graphql.context import Info
from app.graphql.relay import Connection, OrderDirection, build_connection, window_of
from app.queries.keyset import CursorCodec, Ordering, Page, SortKey, Window

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
    def direction(self) -> OrderDirection: ...


def ordering_of(
    order_by: OrderInput | None, *, keys: dict[str, SortKey], default: Ordering
) -> Ordering:
    if order_by is None:
        return default
    return Ordering(keys[order_by.field.name], descending=order_by.direction is OrderDirection.DESC)


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


async def root_connection(
    info: Info,
    *,
    codec: CursorCodec,
    window: Window,
    where: FilterT | None,
    fetch_page: Callable[..., Awaitable[Page[RecordT]]],
    fetch_count: Callable[..., Awaitable[int]],
    node: Callable[[RecordT], NodeT],
) -> Connection[NodeT]:
    loaders = info.context.loaders

    async def read_page(conn: AsyncConnection) -> Page[RecordT]:
        return await fetch_page(conn, where=where, window=window)

    async def read_count(conn: AsyncConnection) -> int:
        return await fetch_count(conn, where=where)

    page = await loaders.run(read_page)
    return build_connection(page, codec=codec, node=node, count=lambda: loaders.run(read_count))
