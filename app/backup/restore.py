"""`ordergraph restore`: judge the file whole, then pg_restore it and check the result.

Nothing touches the target until the file has passed every check: its header and
manifest, the key (when sealed), the SHA-256 of the whole dump, and whether erasures
recorded since could be re-applied. Then --force empties the target (one transaction),
and pg_restore loads the dump in another, so a failing pg_restore leaves the target
empty, never half-restored. Counts are checked, and erasures re-applied, afterwards.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.backup import crypto, pg
from app.backup.binaries import PgTool, find_tool
from app.backup.container import read_header
from app.backup.dump import COPY_BUFFER
from app.backup.erasures import (
    Erasure,
    check_reappliable,
    read_ledger,
    reapply_erasures,
    register_reapplier,
)
from app.backup.manifest import Manifest
from app.errors import BackupError
from app.privacy.erasure import reapply_erasure

# Restoring an old backup erases again whoever was erased since (app.privacy.erasure).
register_reapplier(reapply_erasure)

# A fresh PostgreSQL 15+ database's public schema, as --force leaves it before restoring.
RECREATE_PUBLIC = (
    "CREATE SCHEMA public AUTHORIZATION pg_database_owner",
    "GRANT USAGE ON SCHEMA public TO PUBLIC",
    "COMMENT ON SCHEMA public IS 'standard public schema'",
)


@dataclass(frozen=True, slots=True)
class Restored:
    manifest: Manifest
    pg_restore: PgTool
    replaced: list[str]  # what --force dropped
    reapplied: list[Erasure]


async def restore_backup(
    path: Path,
    *,
    url: str,
    key: bytes | None,
    force: bool = False,
    bin_dir: Path | None = None,
    ledger_urls: Sequence[str] = (),
) -> Restored:
    """Restore the backup at path into url's database (which must be empty, or force);
    erasures in the ledgers of the target and of ledger_urls are re-applied."""
    with tempfile.TemporaryDirectory(prefix="ordergraph-restore-") as work:
        dump = Path(work) / "dump"
        manifest = unpack(path, dump, key=key)
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as conn:
                tool = find_tool(
                    "pg_restore",
                    min_major=max(manifest.pg_dump_major, await pg.server_major(conn)),
                    bin_dir=bin_dir,
                )
                present = await pg.user_relations(conn)
                if present and not force:
                    raise BackupError(
                        "RESTORE_TARGET_NOT_EMPTY",
                        f"the database {pg.database_name(url)} is not empty "
                        f"({len(present)} tables and such, {', '.join(present[:3])}...): "
                        "restore into an empty database (--into URL), or pass --force "
                        "to replace everything in it",
                    )
                carried = await read_ledger(conn)
                await conn.rollback()
            for other in ledger_urls:
                carried += await _ledger_of(other)
            check_reappliable(carried, since=manifest.taken_at)
            if present:
                await _empty(engine)
            await pg.run_tool(
                tool,
                [
                    "--exit-on-error",
                    "--single-transaction",
                    "--no-owner",
                    "-d",
                    pg.database_name(url),
                    str(dump),
                ],
                url=url,
            )
            async with engine.begin() as conn:
                await _check_counts(conn, manifest)
                reapplied = await reapply_erasures(conn, since=manifest.taken_at, carried=carried)
        finally:
            await engine.dispose()
    return Restored(manifest, tool, present, reapplied)


def unpack(path: Path, dump: Path, *, key: bytes | None) -> Manifest:
    """Write the backup's pg_dump archive to dump, checked against its manifest."""
    try:
        source = path.open("rb")
    except OSError as exc:
        raise BackupError("BACKUP_FOREIGN_FILE", f"cannot read {path}: {exc.strerror}") from None
    with source, dump.open("wb") as target:
        manifest, header = read_header(source)
        digest = hashlib.sha256()
        size = 0
        if manifest.encryption is None:
            blocks = iter(lambda: source.read(COPY_BUFFER), b"")
        elif key is None:
            raise BackupError(
                "BACKUP_KEY_MISSING",
                f"{path} is encrypted: set BACKUP_KEY to the key it was made with",
            )
        else:
            blocks = crypto.decrypt_stream(source, key=key, header=header)
        for block in blocks:
            digest.update(block)
            size += len(block)
            target.write(block)
    if size != manifest.dump_bytes or digest.hexdigest() != manifest.dump_sha256:
        raise BackupError(
            "BACKUP_CORRUPT",
            f"checksum mismatch: the manifest says {manifest.dump_bytes} bytes with SHA-256 "
            f"{manifest.dump_sha256}, the file holds {size} bytes with {digest.hexdigest()}",
        )
    return manifest


async def _ledger_of(url: str) -> list[Erasure]:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            return await read_ledger(conn)
    finally:
        await engine.dispose()


async def _empty(engine: AsyncEngine) -> None:
    """Drop every schema of ours (CASCADE takes tables, functions, extensions in them)
    and give back the public schema a new database has. One transaction."""
    async with engine.begin() as conn:
        for schema in (await conn.execute(text(pg.USER_SCHEMAS))).scalars().all():
            await conn.execute(text(f"DROP SCHEMA {pg.quote_ident(schema)} CASCADE"))
        for statement in RECREATE_PUBLIC:
            await conn.execute(text(statement))


async def _check_counts(conn: AsyncConnection, manifest: Manifest) -> None:
    found = await pg.row_counts(conn, list(manifest.row_counts))
    differ = {t: (n, found[t]) for t, n in manifest.row_counts.items() if found[t] != n}
    if differ:
        listed = ", ".join(
            f"{t}: {want} in the backup, {got} restored" for t, (want, got) in differ.items()
        )
        raise BackupError("RESTORE_COUNTS_DIFFER", f"the restored rows do not add up: {listed}")
