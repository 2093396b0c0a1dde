"""One import, start to end."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.cache.tags import tags_of
from app.imports.csvfile import BadFile, CsvReader, RowError
from app.imports.formats import Entity, ImportMode
from app.imports.merge import BatchResult, lock_statement, merge_batch, merge_statement
from app.imports.rules import rules_of
from app.imports.staging import Staging
from app.services.audit import Actor
from app.services.bulk import ErrorPolicy

# Rows per COPY from the reader, and staged lines per merge statement.
COPY_ROWS = 10_000
MERGE_LINES = 50_000
# For the import's transaction: a merge batch's CTEs in memory (about 300 bytes a row).
WORK_MEM = "64MB"
# One merge statement carries a batch of 50,000 lines: seconds, on a busy server, which
# DB_STATEMENT_TIMEOUT_MS (meant for the API's reads and small writes) would cut off
# half-way through an import. An import's statements are bounded by its batches instead.
STATEMENT_TIMEOUT = "15min"
# Problems listed in a result (`failed` counts them all).
MAX_LISTED_ERRORS = 1000

# (phase, done, total): "read" counts bytes of the file, "write" staged lines merged.
Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False  # False: rejected, refused or a dry run; nothing was written
    # Field-cache tags the import touched, to bump once it has committed.
    tags: set[str] = field(default_factory=set)
    # Seconds per stage ("load": parse and COPY, "check", "match" to upsert, "merge").
    timings: dict[str, float] = field(default_factory=dict)


async def import_csv(
    conn: AsyncConnection,
    *,
    actor: Actor,
    entity: Entity,
    source: BinaryIO,
    size: int,
    mode: ImportMode = ImportMode.INSERT,
    error_policy: ErrorPolicy = ErrorPolicy.REJECT_EVERYTHING,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import the CSV `source` (`size` bytes, for progress) in the caller's transaction.

    A file that cannot be read, and under REJECT_EVERYTHING any bad row, writes nothing;
    the result says why. A dry run checks and merges as for real, then rolls the merge
    back: its counts are what the import would do now.
    """
    policy.require_admin(actor.viewer, to=f"import {entity.name}")
    rules = rules_of(entity.model)
    # SQLAlchemy's asyncpg adapter sends BEGIN with its first statement: send one, so
    # that the driver-level statements below (COPY, temporary tables) are in it.
    await conn.execute(text("SELECT 1"))
    raw: Any = (await conn.get_raw_connection()).driver_connection
    # A merge batch's CTEs hold its rows; with the default 4MB they spill to temp files.
    await raw.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    await raw.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
    result = ImportResult(dry_run=dry_run)
    report = progress or (lambda phase, done, total: None)
    try:
        reader = CsvReader(source, entity=entity, rules=rules, batch_rows=COPY_ROWS)
    except BadFile as exc:
        result.errors = exc.errors
        return result
    try:
        staging = Staging(raw, entity=entity, columns=reader.header(), rules=rules)
        await staging.create()
        started = time.perf_counter()
        await _load(staging, reader, report, size)
        result.rows = reader.rows
        await staging.add_errors(reader.errors)
        result.timings["load"] = time.perf_counter() - started
        await staging.check(mode=mode)
        result.timings["check"] = time.perf_counter() - started - result.timings["load"]
    except BadFile as exc:
        result.errors = exc.errors
        return result
    finally:
        reader.detach()
    result.failed = await staging.failed()
    if result.failed and error_policy is ErrorPolicy.REJECT_EVERYTHING:
        result.errors = await staging.listed(MAX_LISTED_ERRORS)
        return result
    started = time.perf_counter()
    if mode is ImportMode.UPSERT:
        await staging.match()
        result.timings["match"] = time.perf_counter() - started
    await raw.execute("SAVEPOINT og_import")
    started = time.perf_counter()
    batches = await _merge(staging, actor=actor, mode=mode, report=report)
    result.timings["merge"] = time.perf_counter() - started
    lost = [line for batch in batches for line in batch.lost_lines]
    if lost:
        # A key another writer inserted after the check: the row failed after all.
        column, code, message = entity.key_taken
        await staging.add_errors(RowError(line, column, code, message) for line in lost)
        result.failed = await staging.failed()
    if error_policy is not ErrorPolicy.IGNORE_FAILED:
        result.errors = await staging.listed(MAX_LISTED_ERRORS)
    if dry_run or (lost and error_policy is ErrorPolicy.REJECT_EVERYTHING):
        await raw.execute("ROLLBACK TO SAVEPOINT og_import")
    else:
        await raw.execute("RELEASE SAVEPOINT og_import")
        result.written = True
        result.tags = _tags(entity, batches)
    if result.written or dry_run:
        result.created = sum(b.created for b in batches)
        result.updated = sum(b.updated for b in batches)
        result.unchanged = sum(b.good for b in batches) - result.created - result.updated
        result.unchanged -= len(lost)
    return result


async def _load(staging: Staging, reader: CsvReader, report: Progress, size: int) -> None:
    """Parse in a worker thread, one batch ahead of the COPY of the one before."""
    batches = reader.batches()

    def parse() -> list[tuple[object, ...]] | None:
        return next(batches, None)

    pending: asyncio.Future[Any] = asyncio.ensure_future(asyncio.to_thread(parse))
    try:
        while (batch := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(parse))
            await staging.copy_rows(batch)
            report("read", reader.bytes_read, size)
    finally:
        if not pending.done():
            with contextlib.suppress(Exception):
                await pending


async def _merge(
    staging: Staging, *, actor: Actor, mode: ImportMode, report: Progress
) -> list[BatchResult]:
    statement = merge_statement(staging, mode=mode)
    lock = lock_statement(staging) if mode is ImportMode.UPSERT else None
    last = await staging.last_line()
    results = []
    for start in range(1, last + 1, MERGE_LINES):
        end = min(start + MERGE_LINES, last + 1)
        results.append(await merge_batch(staging, statement, lock, actor=actor, lines=(start, end)))
        report("write", end - 1, last)
    return results


def _tags(entity: Entity, batches: list[BatchResult]) -> set[str]:
    """The cache tags the committed import touched, as services' events give them
    (cache.tags.tags_of). An updated row's own tags are bumped; of the created rows one
    stands for all: their own tags name ids nothing could have cached before, and the
    shared tags (the lists, sales) are the same for each."""
    tags: set[str] = set()
    for batch in batches:
        events = [
            _event(entity, entity_id, "UPDATED", names) for entity_id, names in batch.updated_rows
        ]
        if batch.first_created is not None:
            events.append(_event(entity, batch.first_created, "CREATED", []))
        tags |= tags_of(events)
    return tags


def _event(entity: Entity, entity_id: Any, type: str, names: list[str]) -> dict[str, Any]:
    return {
        "topic": entity.topic,
        "type": type,
        "entity_id": entity_id,
        "owner_id": entity_id if entity.owned else None,
        "changed_fields": names,
    }
