"""Filter building blocks shared by every domain: ranges and substring matches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

from app.errors import BadInput


@dataclass(frozen=True, slots=True)
class TimeRange:
    """start inclusive, end exclusive."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class MoneyRange:
    """Both bounds inclusive."""

    min: Decimal | None = None
    max: Decimal | None = None


def time_range(
    column: ColumnElement[Any], value: TimeRange | None, *, field: str
) -> list[ColumnElement[bool]]:
    if value is None:
        return []
    if value.start is not None and value.end is not None and value.start >= value.end:
        raise BadInput(f"`{field}.from` must be earlier than `{field}.to`.", field=field)
    conditions: list[ColumnElement[bool]] = []
    if value.start is not None:
        conditions.append(column >= value.start)
    if value.end is not None:
        conditions.append(column < value.end)
    return conditions


def money_range(
    column: ColumnElement[Any], value: MoneyRange | None, *, field: str
) -> list[ColumnElement[bool]]:
    if value is None:
        return []
    if value.min is not None and value.max is not None and value.min > value.max:
        raise BadInput(f"`{field}.min` must not exceed `{field}.max`.", field=field)
    conditions: list[ColumnElement[bool]] = []
    # Bound as plain numeric, not the column's numeric(10,2): a bound beyond what the
    # column holds is a valid (if empty) filter, not an overflow.
    if value.min is not None:
        conditions.append(column >= bindparam(None, value.min, type_=Numeric()))
    if value.max is not None:
        conditions.append(column <= bindparam(None, value.max, type_=Numeric()))
    return conditions


def contains(column: ColumnElement[Any], text: str | None) -> list[ColumnElement[bool]]:
    """Case-insensitive substring match; % and _ in the input match themselves."""
    if text is None or not text.strip():
        return []
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [column.ilike(f"%{escaped}%", escape="\\")]


def one_of(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column = ANY($1)` with one array parameter: the same SQL text for any number of
    keys, so PostgreSQL and asyncpg reuse one prepared statement."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


KEYS = "keys"


def any_key(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """`column = ANY(:keys)`, the keys bound when the statement runs.

    For statements built once at import and run with `{KEYS: [...]}`: building a Core
    statement costs more than running it, so the hot lookups
    build theirs once, and SQLAlchemy's compiled cache finds them by identity.
    """
    return column == any_(bindparam(KEYS, type_=ARRAY(column.type)))
