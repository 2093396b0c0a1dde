"""Erasures survive restores: the hook restore calls once the data is back.

The privacy work keeps a ledger of erased users in the table `erased_users` (columns
`user_id uuid`, `erased_at timestamptz`) and registers the function that erases one
user again with `register_reapplier`. Restore reads the ledger where it outlives the
restored database (the target before it is replaced, and the live DATABASE_URL) and,
after pg_restore, re-applies every erasure the backup does not already hold: those
recorded after the backup was taken.

Until something registers a reapplier, a restore that finds erasures to re-apply fails
loudly (RESTORE_ERASURES_PENDING) rather than bring erased personal data back quietly.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import BackupError

LEDGER_TABLE = "erased_users"

Reapplier = Callable[[AsyncConnection, uuid.UUID], Awaitable[None]]
_reappliers: list[Reapplier] = []


@dataclass(frozen=True, slots=True)
class Erasure:
    user_id: uuid.UUID
    erased_at: datetime


def register_reapplier(reapplier: Reapplier) -> None:
    """Have restore call reapplier(conn, user_id) for each erasure to re-apply, inside the
    transaction that also records it in the restored ledger."""
    if reapplier not in _reappliers:
        _reappliers.append(reapplier)


def unregister_reapplier(reapplier: Reapplier) -> None:
    if reapplier in _reappliers:
        _reappliers.remove(reapplier)


def check_reappliable(carried: Iterable[Erasure], *, since: datetime) -> None:
    """Before restoring: BackupError RESTORE_ERASURES_PENDING when erasures recorded after
    `since` would come back and nothing is installed to re-apply them."""
    _need_reappliers(sum(1 for e in carried if e.erased_at > since))


def _need_reappliers(pending: int) -> None:
    if pending and not _reappliers:
        raise BackupError(
            "RESTORE_ERASURES_PENDING",
            f"{pending} erasure(s) recorded after this backup would be undone and this "
            "ordergraph has no eraser installed to re-apply them",
        )


async def read_ledger(conn: AsyncConnection) -> list[Erasure]:
    """The erasures recorded in conn's database; none when it has no ledger."""
    if await conn.scalar(text(f"SELECT to_regclass('public.{LEDGER_TABLE}')")) is None:
        return []
    rows = await conn.execute(
        text(f"SELECT user_id, erased_at FROM public.{LEDGER_TABLE} ORDER BY erased_at")
    )
    return [Erasure(user_id, erased_at) for user_id, erased_at in rows]


async def reapply_erasures(
    conn: AsyncConnection, *, since: datetime, carried: Iterable[Erasure]
) -> list[Erasure]:
    """Re-apply, in conn's (restored) database, the erasures of `carried` that it does not
    hold, and those it holds from after `since` (the backup's taken_at); returns them.

    Call it inside a transaction: the erasures and their ledger rows commit together.
    """
    restored = await read_ledger(conn)
    known = {e.user_id for e in restored}
    pending: dict[uuid.UUID, Erasure] = {e.user_id: e for e in restored if e.erased_at > since}
    for erasure in carried:
        if erasure.user_id not in known:
            pending.setdefault(erasure.user_id, erasure)
    if not pending:
        return []
    _need_reappliers(len(pending))
    ledger_exists = bool(
        await conn.scalar(text(f"SELECT to_regclass('public.{LEDGER_TABLE}') IS NOT NULL"))
    )
    for erasure in sorted(pending.values(), key=lambda e: e.erased_at):
        for reapplier in _reappliers:
            await reapplier(conn, erasure.user_id)
        if ledger_exists and erasure.user_id not in known:
            await conn.execute(
                text(
                    f"INSERT INTO public.{LEDGER_TABLE} (user_id, erased_at) "
                    "VALUES (:user_id, :erased_at)"
                ),
                {"user_id": erasure.user_id, "erased_at": erasure.erased_at},
            )
    return list(pending.values())
