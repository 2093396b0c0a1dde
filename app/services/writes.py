"""Helpers every write service shares: transactions, version checks, constraint names."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Row, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth.authenticate import current_viewer
from app.auth.viewer import RequestMeta, Viewer
from app.db.engine import transaction
from app.db.users import users
from app.errors import Conflict, InvalidInput, NotFound, TryAgain
from app.services.audit import Actor

T = TypeVar("T")
log = logging.getLogger("app.services")

# A transaction PostgreSQL aborted for a deadlock or a serialization failure runs again
# up to this many times in all; the pause before each retry is drawn at random from
# [0, RETRY_BASE_S * 2**n) so that the transactions that collided do not collide again.
ATTEMPTS = 4
RETRY_BASE_S = 0.01


async def run_transaction(
    engine: AsyncEngine,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    attempts: int = ATTEMPTS,
) -> T:
    """`work` in one transaction, run again from the start if PostgreSQL aborts it for a
    deadlock or a serialization failure (40P01, 40001).

    The whole unit re-runs, its audit and outbox records included, so `work` must keep
    its effects inside the transaction: do anything outside it (cache invalidation,
    notifications) after this returns. When every attempt collides the caller gets
    TryAgain (TRY_AGAIN, retryable), never a database error.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with transaction(engine) as conn:
                return await work(conn)
        except TryAgain:
            if attempt == attempts:
                log.warning("transaction collided %d times; giving up", attempts)
                raise
            await asyncio.sleep(random.uniform(0, RETRY_BASE_S * 2**attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


async def acting(
    conn: AsyncConnection,
    viewer: Viewer,
    *,
    meta: RequestMeta,
    locks_user: uuid.UUID | None = None,
) -> Actor:
    """The actor of a write, their role read again inside its transaction (their row
    locked FOR NO KEY UPDATE until it ends: see current_viewer).

    `locks_user` names a user row the write goes on to lock FOR UPDATE. When that is
    the actor's own row it is locked FOR UPDATE here, first: the strongest lock is taken
    before any weaker one, so no write ever upgrades a lock on that row. (With a shared
    lock such as KEY SHARE for the re-check, two writes could each hold it and wait for
    the other to upgrade, until PostgreSQL aborts one with 40P01; tests/services/
    test_deadlocks.py shows both the hazard and the order that avoids it.)
    """
    if locks_user is not None and locks_user == viewer.user_id:
        await conn.execute(select(users.c.id).where(users.c.id == locks_user).with_for_update())
    return Actor(viewer=await current_viewer(conn, viewer), meta=meta)


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
    row = found(row if row is not None and visible(row) else None, entity=entity)
    check_version(row, expected_version=expected_version, entity=entity)
    return row


def found(row: Row[Any] | None, *, entity: str) -> Row[Any]:
    """The row, or NotFound for a missing one."""
    if row is None:
        raise NotFound(f"No {entity} with this id.", field="id")
    return row


def check_version(row: Row[Any], *, expected_version: int, entity: str) -> None:
    """Conflict unless the row is at the version the caller read."""
    if row.version != expected_version:
        raise Conflict(
            f"This {entity} changed since you read it (version {expected_version}, now "
            f"{row.version}); read it again and re-apply your change.",
            field="expectedVersion",
        )


def invalid_from_constraint(
    error: IntegrityError, mapping: dict[str, tuple[str, str, str]]
) -> InvalidInput | None:
    """A database constraint that slipped past validation, as a field problem."""
    field = mapping.get(constraint_of(error))
    return InvalidInput.one(*field) if field else None
