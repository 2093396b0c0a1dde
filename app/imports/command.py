"""`ordergraph import products|users FILE.csv`: the import, from the command line.

It acts as an admin user (`--as`, default admin@example.com): the audit trail names that
user, with actor kind `cli`. A progress bar (bytes read, rows/s, ETA) goes to stderr on a
terminal; the last line, on stdout, sums up.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from tqdm import tqdm

from app.auth.authenticate import current_viewer
from app.auth.viewer import RequestMeta, Viewer
from app.cache.fields import FieldCache
from app.db.users import users
from app.errors import BadInput, OrdergraphError
from app.imports.formats import ENTITIES, ImportMode
from app.imports.run import ImportResult, import_csv
from app.services.audit import Actor
from app.services.bulk import ErrorPolicy
from app.services.writes import run_transaction
from app.settings import Settings

log = logging.getLogger("ordergraph")
SHOWN_ERRORS = 20


def run_import(settings: Settings, url: str, args: argparse.Namespace) -> int:
    """0: every row imported (or would be, in a dry run); 1: some or all were not (the
    reasons on stderr); 2: the command could not run (no file, not an admin)."""
    try:
        source = args.file.open("rb")
    except OSError as exc:
        log.error("import: cannot read %s: %s", args.file, exc.strerror)
        return 2
    with source:
        started = time.monotonic()
        try:
            result = asyncio.run(_import(settings, url, args, source))
        except OrdergraphError as exc:
            log.error("import: %s", exc.message)
            return 2
    elapsed = time.monotonic() - started
    for error in result.errors[:SHOWN_ERRORS]:
        where = f"line {error.line}" if error.line is not None else "file"
        column = f", {error.column}" if error.column else ""
        sys.stderr.write(f"{where}{column}: {error.code}: {error.message}\n")
    if result.failed > SHOWN_ERRORS or len(result.errors) > SHOWN_ERRORS:
        sys.stderr.write(f"... {result.failed} rows failed in all\n")
    sys.stdout.write(summary(args.entity, result, elapsed) + "\n")
    clean = not result.failed and not result.errors
    return 0 if (result.written or result.dry_run) and clean else 1


def summary(entity: str, result: ImportResult, elapsed: float) -> str:
    rate = result.rows / elapsed if elapsed > 0 else 0.0
    if result.written:
        verb = "imported"
    elif result.dry_run and result.errors == [] and not result.failed:
        verb = "dry run, nothing written:"
    else:
        verb = "nothing written:"
    return (
        f"{entity}: {verb} {result.rows:,} rows in {elapsed:.1f} s ({rate:,.0f} rows/s): "
        f"{result.created:,} created, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged, {result.failed:,} failed"
        + (" (dry run)" if result.dry_run else "")
    )


class Bar:
    """tqdm over the bytes read, then over the rows written; rows/s in its postfix."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.phase = ""
        self.started = time.monotonic()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.started = time.monotonic()
            reading = phase == "read"
            self.bar = tqdm(
                total=total,
                unit="B" if reading else " rows",
                unit_scale=reading,
                desc="reading" if reading else "writing",
                file=sys.stderr,
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


async def _import(
    settings: Settings, url: str, args: argparse.Namespace, source: Any
) -> ImportResult:
    engine = create_async_engine(url)
    entity = ENTITIES[args.entity]
    size = args.file.stat().st_size
    bar = Bar(sys.stderr.isatty())
    meta = RequestMeta(request_id=f"cli-import-{secrets.token_hex(4)}", user_agent="ordergraph-cli")

    async def work(conn: AsyncConnection) -> ImportResult:
        source.seek(0)
        actor = await _admin(conn, args.as_email, meta)
        return await import_csv(
            conn,
            actor=actor,
            entity=entity,
            source=source,
            size=size,
            mode=ImportMode(args.mode),
            error_policy=ErrorPolicy[args.policy],
            dry_run=args.dry_run,
            progress=bar,
        )

    try:
        result = await run_transaction(engine, work)
        bar.close()
        if result.tags:
            await _invalidate(settings, engine, result.tags)
        return result
    finally:
        bar.close()
        await engine.dispose()


async def _admin(conn: AsyncConnection, email: str, meta: RequestMeta) -> Actor:
    user_id = await conn.scalar(select(users.c.id).where(users.c.email == email.strip().lower()))
    if user_id is None:
        raise BadInput(f"no user with email {email}; pass --as with an admin's email")
    viewer = await current_viewer(conn, Viewer(user_id=user_id, role="admin"))
    if not viewer.is_admin:
        raise BadInput(f"{email} is not an admin; pass --as with an admin's email")
    return Actor(viewer=viewer, kind="cli", meta=meta)


async def _invalidate(settings: Settings, engine: Any, tags: set[str]) -> None:
    """Bump the tags in the servers' Redis now; without one, each server's relay bumps
    them as it moves the import's events (within EVENTS_POLL_SECONDS)."""
    from app.main import cache_store, database_namespace

    if not settings.redis_url or not settings.field_cache:
        return
    store = cache_store(settings)
    try:
        cache = FieldCache(store, namespace=database_namespace(engine), schema_version="")
        await cache.invalidate(sorted(tags))
    finally:
        await store.close()
