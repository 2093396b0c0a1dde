"""Keyset pagination: opaque cursors, windows and the SQL that pages through them.

A page is ordered by one sort column and then by id, both in the same direction, so
the position of a row is the pair (value, id) and the next page is a row comparison
`(value, id) > (:value, :id)` that a btree index on (value, id) answers directly. No
OFFSET: a page stays where it is while rows are inserted before it.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import ColumnElement, Numeric, Select, Table, bindparam, tuple_
from sqlalchemy.sql.expression import ColumnCollection

from app.errors import BadInput
from app.queries.text import MONEY_LIMIT

R = TypeVar("R")

_CURSOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class SortKey:
    """A column a connection may be ordered by. `name` is the API's enum value."""

    name: str
    column: str
    kind: type[datetime] | type[Decimal] | type[str]


@dataclass(frozen=True, slots=True)
class Ordering:
    key: SortKey
    descending: bool

    @property
    def token(self) -> str:
        return f"{self.key.name}:{'DESC' if self.descending else 'ASC'}"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a row sits in an ordering: its sort value, then its id."""

    value: datetime | Decimal | str
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Window:
    """Which slice of an ordering to fetch: first/after or last/before."""

    ordering: Ordering
    size: int
    backward: bool = False
    after: Position | None = None
    before: Position | None = None


@dataclass(slots=True)
class Page(Generic[R]):
    rows: list[R]
    has_next: bool
    has_previous: bool


class CursorCodec:
    """Encodes positions as opaque cursors for one entity and ordering, and back.

    A cursor names the entity and ordering it came from, so one from another
    connection or another orderBy is refused with a message instead of paging
    through the wrong rows.
    """

    def __init__(self, entity: str, ordering: Ordering) -> None:
        self.entity = entity
        self.ordering = ordering

    def encode(self, value: object, row_id: uuid.UUID) -> str:
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        payload = orjson.dumps(
            [_CURSOR_VERSION, self.entity, self.ordering.token, text, row_id.hex]
        )
        return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()

    def decode(self, cursor: str, *, argument: str) -> Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            version, entity, token, text, hex_id = orjson.loads(raw)
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
            raise BadInput(
                f"`{argument}` is not a cursor this API issued; pass an edge's `cursor` "
                "or pageInfo's startCursor/endCursor unchanged.",
                field=argument,
            ) from None
        if version != _CURSOR_VERSION or entity != self.entity:
            raise BadInput(
                f"`{argument}` is a cursor from another connection; use a cursor returned "
                f"by this {self.entity} connection.",
                field=argument,
            )
        if token != self.ordering.token:
            raise BadInput(
                f"`{argument}` was issued for orderBy {token}, but this request orders by "
                f"{self.ordering.token}; keep orderBy unchanged while paging, or start "
                "again without a cursor.",
                field=argument,
            )
        try:
            if not isinstance(hex_id, str):
                raise TypeError(hex_id)
            return Position(_parse_value(self.ordering.key.kind, text), uuid.UUID(hex=hex_id))
        except (ValueError, TypeError, InvalidOperation, OverflowError):
            raise BadInput(f"`{argument}` is a damaged cursor.", field=argument) from None


def _parse_value(kind: type, text: object) -> datetime | Decimal | str:
    """The sort value of a cursor, checked as strictly as a filter value would be."""
    if not isinstance(text, str) or len(text) > 1000 or "\x00" in text:
        raise ValueError(text)
    text.encode()  # lone surrogates raise UnicodeEncodeError, a ValueError
    if kind is datetime:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            raise ValueError(text)
        return value.astimezone(UTC)
    if kind is Decimal:
        number = Decimal(text)
        if not number.is_finite() or abs(number) >= MONEY_LIMIT:
            raise ValueError(text)
        return number
    return text


def apply_window(stmt: Select[Any], table: Table, window: Window) -> Select[Any]:
    """Add the keyset conditions, the ORDER BY and the LIMIT (size + 1) for a window.

    A backward window is fetched in reverse order; `to_page` turns it round again.
    """
    column = table.c[window.ordering.key.column]
    position = tuple_(column, table.c.id)
    if window.after is not None:
        bound = _bound(table, column, window.after)
        stmt = stmt.where(position < bound if window.ordering.descending else position > bound)
    if window.before is not None:
        bound = _bound(table, column, window.before)
        stmt = stmt.where(position > bound if window.ordering.descending else position < bound)
    return stmt.order_by(*fetch_order(table.c, window)).limit(window.size + 1)


def fetch_order(columns: ColumnCollection[str, Any], window: Window) -> list[Any]:
    """ORDER BY for fetching a window from `columns` (a table's, or a subquery's)."""
    column, row_id = columns[window.ordering.key.column], columns["id"]
    if window.ordering.descending != window.backward:
        return [column.desc(), row_id.desc()]
    return [column.asc(), row_id.asc()]


def _bound(table: Table, column: ColumnElement[Any], position: Position) -> ColumnElement[Any]:
    """The position as parameters typed like the columns: timestamptz, not timestamp; but a
    plain numeric, so that a bound the column could not hold compares instead of failing."""
    value_type = Numeric() if isinstance(column.type, Numeric) else column.type
    return tuple_(
        bindparam(None, position.value, type_=value_type),
        bindparam(None, position.id, type_=table.c.id.type),
    )


def to_page(rows: Sequence[R], window: Window) -> Page[R]:
    """Trim the look-ahead row and work out pageInfo.

    The look-ahead row tells whether more rows lie in the direction of travel. A cursor
    on either side also means a row lies beyond it (the one it points at): the cheap
    answer the Relay spec allows, without a second query.
    """
    items = list(rows[: window.size])
    more = len(rows) > window.size
    if window.backward:
        items.reverse()
        return Page(
            items,
            has_next=window.before is not None,
            has_previous=more or window.after is not None,
        )
    return Page(
        items,
        has_next=more or window.before is not None,
        has_previous=window.after is not None,
    )


def group_pages(
    rows: Sequence[Any],
    parent_ids: Sequence[uuid.UUID],
    window: Window,
    build: Callable[[Any], R],
) -> list[Page[R]]:
    """Split rows of (parent_id, *record columns) into one page per parent, in key order."""
    grouped: dict[uuid.UUID, list[R]] = {parent_id: [] for parent_id in parent_ids}
    for row in rows:
        grouped[row[0]].append(build(row))
    return [to_page(grouped[parent_id], window) for parent_id in parent_ids]
