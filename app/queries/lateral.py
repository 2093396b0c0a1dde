"""A page of child rows for each of many parents, in one statement per level.

The per-parent connections (a user's orders, an object's history) are read through
`PagesByParent`: all parents of a level share one LATERAL statement for their pages and
one grouped COUNT for their totals, however many parents (or aliases of them) there are.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from cachetools import LRUCache
from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    Table,
    TableValuedAlias,
    bindparam,
    column,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries.filters import KEYS, any_key
from app.queries.keyset import Page, Window, apply_window, fetch_order, group_pages

F = TypeVar("F")
R = TypeVar("R")

# Statements kept per PagesByParent; bounded because cursors vary without end.
_STATEMENTS_MAX = 256


def _parents() -> TableValuedAlias:
    return (
        func.unnest(bindparam(KEYS, type_=ARRAY(UUID(as_uuid=True))))
        .table_valued(column("parent_id", UUID(as_uuid=True)), with_ordinality="ordinal")
        .render_derived(name="parent")
    )


class PagesByParent(Generic[F, R]):
    """Pages and counts of `table`'s rows per value of `parent` (a column of `table`).

    Each parent's page is a LATERAL subquery with its own LIMIT, so PostgreSQL walks the
    (parent, sort column, id) index once per parent and stops after the page. A page
    statement is built once per (filter, window) and the parents bound at run time:
    building one costs more than running it. Filters must be hashable.
    """

    def __init__(
        self,
        *,
        table: Table,
        columns: Sequence[Column[Any]],
        parent: Column[Any],
        conditions: Callable[[F | None], list[ColumnElement[bool]]],
        build: Callable[[Sequence[Any]], R],
    ) -> None:
        self._table = table
        self._columns = list(columns)
        self._parent = parent
        self._conditions = conditions
        self._build = build
        self._pages: LRUCache[tuple[F | None, Window], Select[Any]] = LRUCache(_STATEMENTS_MAX)

    async def pages(
        self,
        conn: AsyncConnection,
        parent_ids: Sequence[uuid.UUID],
        *,
        where: F | None,
        window: Window,
    ) -> list[Page[R]]:
        """One page per parent, in the order of `parent_ids`."""
        stmt = self._pages.get((where, window))
        if stmt is None:
            stmt = self._pages[(where, window)] = self._page_statement(where, window)
        rows = await conn.execute(stmt, {KEYS: list(parent_ids)})
        return group_pages(rows.all(), parent_ids, window, lambda row: self._build(row[1:]))

    async def counts(
        self, conn: AsyncConnection, parent_ids: Sequence[uuid.UUID], *, where: F | None
    ) -> list[int]:
        """How many rows match `where` for each parent, in the order of `parent_ids`."""
        stmt = (
            select(self._parent, func.count())
            .where(any_key(self._parent), *self._conditions(where))
            .group_by(self._parent)
        )
        counts = {row[0]: int(row[1]) for row in await conn.execute(stmt, {KEYS: list(parent_ids)})}
        return [counts.get(parent_id, 0) for parent_id in parent_ids]

    def _page_statement(self, where: F | None, window: Window) -> Select[Any]:
        parent = _parents()
        page = apply_window(
            select(*self._columns).where(
                self._parent == parent.c.parent_id, *self._conditions(where)
            ),
            self._table,
            window,
        ).lateral("page")
        return (
            select(parent.c.parent_id, *page.c)
            .select_from(parent.join(page, true()))
            # The order of rows out of a join is not promised; say it.
            .order_by(parent.c.ordinal, *fetch_order(page.c, window))
        )
