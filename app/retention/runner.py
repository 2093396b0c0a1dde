"""Running retention: count or delete, class by class, in short transactions.

One runner at a time across instances: a run holds a session advisory lock for its
whole length, and a run that cannot take it skips its turn. Each batch is its own
transaction of at most RETENTION_BATCH_SIZE rows, picked with FOR UPDATE SKIP LOCKED,
so concurrent writers wait for a batch at most, and never for a row someone else holds.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.engine import connect
from app.retention.classes import CLASSES, RetentionClass
from app.settings import Settings

log = logging.getLogger(__name__)

RETENTION_LOCK = 0x726574656E74  # "retent"

Progress = Callable[[RetentionClass, int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ClassResult:
    """What a run did (or, dry, would do) to one class."""

    cls: RetentionClass
    days: float
    cutoff: datetime | None
    rows: int
    skipped: str | None = None  # why nothing was looked at


@dataclass(frozen=True, slots=True)
class RunResult:
    dry_run: bool
    results: tuple[ClassResult, ...]
    seconds: float


async def run_retention(
    engine: AsyncEngine,
    settings: Settings,
    *,
    dry_run: bool = False,
    actor_kind: str = "system",
    classes: Sequence[RetentionClass] = CLASSES,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> RunResult | None:
    """Count (dry_run) or delete what each class no longer keeps.

    None when another runner holds the lock (a dry run takes no lock: it changes
    nothing). `should_stop` is asked between batches; a stopped run returns what it did.
    """
    started = time.perf_counter()
    async with connect(engine) as conn:
        if not dry_run:
            locked = await conn.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": RETENTION_LOCK}
            )
            await conn.commit()
            if not locked:
                return None
        try:
            run_id = uuid.uuid4()
            results = []
            for cls in classes:
                if should_stop():
                    break
                results.append(
                    await _one_class(
                        conn,
                        cls,
                        settings,
                        dry_run=dry_run,
                        run_id=run_id,
                        actor_kind=actor_kind,
                        should_stop=should_stop,
                        progress=progress,
                    )
                )
        finally:
            if not dry_run and not conn.invalidated:
                await conn.rollback()  # whatever a failed batch left open
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RETENTION_LOCK})
                await conn.commit()
    return RunResult(dry_run, tuple(results), time.perf_counter() - started)


async def _one_class(
    conn: AsyncConnection,
    cls: RetentionClass,
    settings: Settings,
    *,
    dry_run: bool,
    run_id: uuid.UUID,
    actor_kind: str,
    should_stop: Callable[[], bool],
    progress: Progress | None,
) -> ClassResult:
    days = cls.days(settings)
    async with conn.begin():
        exists = await conn.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": cls.table})
        if not exists:
            return ClassResult(cls, days, None, 0, skipped=f"no table {cls.table} yet")
        params = await _parameters(conn, cls, days)
        if dry_run:
            count = await conn.scalar(
                text(
                    f"SELECT count(*) FROM {cls.table} WHERE ({cls.expired}) AND {cls.keep_clause}"
                ),
                params,
            )
            return ClassResult(cls, days, params["cutoff"], int(count or 0))
    batch = settings.retention_batch_size
    total = 0
    while True:
        async with conn.begin():
            deleted = await _delete_batch(conn, cls, params, batch, run_id, actor_kind)
        total += deleted
        if deleted and progress is not None:
            await progress(cls, deleted)
        if deleted < batch or should_stop():
            break
    if total:
        log.info("retention: deleted %d %s older than %s", total, cls.name, params["cutoff"])
    return ClassResult(cls, days, params["cutoff"], total)


async def _parameters(conn: AsyncConnection, cls: RetentionClass, days: float) -> dict[str, Any]:
    # The database's clock decides, the same one that stamped the rows.
    cutoff = await conn.scalar(
        text("SELECT now() - make_interval(secs => :seconds)"), {"seconds": days * 86400}
    )
    params: dict[str, Any] = {"cutoff": cutoff}
    if cls.bound is not None:
        params["bound"] = await conn.scalar(text(cls.bound), params)
    return params


async def _delete_batch(
    conn: AsyncConnection,
    cls: RetentionClass,
    params: dict[str, Any],
    batch: int,
    run_id: uuid.UUID,
    actor_kind: str,
) -> int:
    if cls.purge_function is not None:
        deleted = await conn.scalar(
            text(f"SELECT {cls.purge_function}(:cutoff, :batch, :run_id, :actor_kind)"),
            {
                "cutoff": params["cutoff"],
                "batch": batch,
                "run_id": run_id,
                "actor_kind": actor_kind,
            },
        )
        return int(deleted or 0)
    result = await conn.execute(
        text(
            f"DELETE FROM {cls.table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {cls.table} WHERE ({cls.expired}) AND {cls.keep_clause} "
            "LIMIT :batch FOR UPDATE SKIP LOCKED))"
        ),
        {**params, "batch": batch},
    )
    return int(result.rowcount or 0)
