"""Reading users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.users import users
from app.queries.filters import KEYS, TimeRange, any_key, contains, time_range
from app.queries.keyset import Page, SortKey, Window, apply_window, to_page


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: uuid.UUID
    email: str
    name: str
    role: str
    created_at: datetime
    updated_at: datetime
    version: int


COLUMNS = [getattr(users.c, name) for name in UserRecord.__dataclass_fields__]


@dataclass(frozen=True, slots=True)
class UserWhere:
    email: str | None = None
    name: str | None = None
    role: str | None = None
    created_at: TimeRange | None = None
    # Authorization, not a client filter: only this user is visible (None: everyone).
    visible_to: uuid.UUID | None = None


SORT_KEYS = {
    key.name: key
    for key in (
        SortKey("CREATED_AT", "created_at", datetime),
        SortKey("EMAIL", "email", str),
        SortKey("NAME", "name", str),
    )
}


def conditions(where: UserWhere | None) -> list[ColumnElement[bool]]:
    if where is None:
        return []
    result = [*contains(users.c.email, where.email), *contains(users.c.name, where.name)]
    if where.role is not None:
        result.append(users.c.role == where.role)
    result += time_range(users.c.created_at, where.created_at, field="filter.createdAt")
    if where.visible_to is not None:
        result.append(users.c.id == where.visible_to)
    return result


_BY_ID = select(*COLUMNS).where(any_key(users.c.id))


async def users_by_id(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[UserRecord | None]:
    rows = await conn.execute(_BY_ID, {KEYS: list(ids)})
    found = {row[0]: UserRecord(*row) for row in rows}
    return [found.get(user_id) for user_id in ids]


async def users_page(
    conn: AsyncConnection, *, where: UserWhere | None, window: Window
) -> Page[UserRecord]:
    stmt = apply_window(select(*COLUMNS).where(*conditions(where)), users, window)
    rows = await conn.execute(stmt)
    return to_page([UserRecord(*row) for row in rows], window)


async def count_users(conn: AsyncConnection, *, where: UserWhere | None) -> int:
    stmt = select(func.count()).select_from(users).where(*conditions(where))
    return int((await conn.execute(stmt)).scalar_one())
