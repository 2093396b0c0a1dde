"""Helpers every write service shares: transactions, version checks, constraint names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Row, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.engine import connect
from app.errors import Conflict, InvalidInput, NotFound


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction: everything in it commits together, or nothing does."""
    async with connect(engine) as conn, conn.begin():
        yield conn


def constraint_of(error: IntegrityError) -> str:
    """The name of the constraint a write broke (our naming convention makes it stable)."""
    return (
        getattr(error.orig, "constraint_name", None)
        or getattr(getattr(error.orig, "__cause__", None), "constraint_name", "")
        or ""
    )


async def locked_row(
    conn: AsyncConnection,
    table: Table,
    row_id: uuid.UUID,
    *,
    expected_version: int,
    entity: str,
    visible: Callable[[Row[Any]], bool] = lambda row: True,
) -> Row[Any]:
    """The row, locked for this transaction, at the version the caller read.

    A row the caller may not see is NotFound, exactly like a missing one.
    """
    row = (await conn.execute(select(table).where(table.c.id == row_id).with_for_update())).first()
    if row is None or not visible(row):
        raise NotFound(f"No {entity} with this id.", field="id")
    if row.version != expected_version:
        raise Conflict(
            f"This {entity} changed since you read it (version {expected_version}, now "
            f"{row.version}); read it again and re-apply your change.",
            field="expectedVersion",
        )
    return row


def invalid_from_constraint(
    error: IntegrityError, mapping: dict[str, tuple[str, str, str]]
) -> InvalidInput | None:
    """A database constraint that slipped past validation, as a field problem."""
    field = mapping.get(constraint_of(error))
    return InvalidInput.one(*field) if field else None
