"""`ordergraph backup`: pg_dump -Fc in a file with a manifest, sealed on request."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.backup import crypto, pg
from app.backup.binaries import find_tool
from app.backup.container import header_bytes
from app.backup.manifest import ENCRYPTION, Manifest

COPY_BUFFER = 1 << 20


def default_name(database: str, manifest_time: str) -> str:
    return f"ordergraph-{database}-{manifest_time}.ogbackup"


async def take_backup(
    url: str,
    *,
    out: Path | None,
    key: bytes | None,
    bin_dir: Path | None = None,
    chunk_size: int = crypto.DEFAULT_CHUNK,
) -> tuple[Path, Manifest]:
    """Dump url's database into out (default: a name with the database and the time, in
    the current directory), sealed with key when given; returns the path and manifest.

    The row counts and schema revision are read in the very snapshot pg_dump dumps
    (pg_export_snapshot), so they agree with the dump while writes go on.
    """
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                await conn.execute(text("SET TRANSACTION READ ONLY"))
                snapshot = str(await conn.scalar(text("SELECT pg_export_snapshot()")))
                taken_at = await conn.scalar(text("SELECT now()"))
                server_version = str(await conn.scalar(text("SHOW server_version")))
                tool = find_tool("pg_dump", min_major=await pg.server_major(conn), bin_dir=bin_dir)
                revision = await pg.schema_revision(conn)
                counts = await pg.row_counts(conn, await pg.user_tables(conn))
                database = pg.database_name(url)
                if out is None:
                    out = Path(default_name(database, f"{taken_at:%Y%m%dT%H%M%SZ}"))
                with _temporary(out, ".dump") as dump:
                    # The snapshot lives while this transaction does.
                    await pg.run_tool(
                        tool, ["-Fc", f"--snapshot={snapshot}", "-f", str(dump)], url=url
                    )
                    manifest = Manifest(
                        taken_at=taken_at,
                        database=database,
                        schema_revision=revision,
                        server_version=server_version,
                        pg_dump_version=tool.version,
                        row_counts=counts,
                        dump_sha256=_sha256(dump),
                        dump_bytes=dump.stat().st_size,
                        encryption=ENCRYPTION if key is not None else None,
                    )
                    _write(out, dump, manifest, key=key, chunk_size=chunk_size)
    finally:
        await engine.dispose()
    return out, manifest


def _write(
    out: Path, dump: Path, manifest: Manifest, *, key: bytes | None, chunk_size: int
) -> None:
    """The backup file, complete or not at all: written aside, then renamed over out."""
    header = header_bytes(manifest)
    with _temporary(out, ".partial") as partial:
        with partial.open("wb") as target, dump.open("rb") as source:
            target.write(header)
            if key is None:
                shutil.copyfileobj(source, target, COPY_BUFFER)
            else:
                crypto.encrypt_stream(source, target, key=key, header=header, chunk_size=chunk_size)
            target.flush()
            os.fsync(target.fileno())
        os.replace(partial, out)


@contextlib.contextmanager
def _temporary(beside: Path, suffix: str) -> Iterator[Path]:
    """A file only we may read (a dump holds personal data), next to `beside` so the final
    rename stays on one file system; removed afterwards unless renamed away."""
    directory = beside.resolve().parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=f".{beside.name}.", suffix=suffix)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    with path.open("rb") as source:
        return sha256_of(source)


def sha256_of(source: BinaryIO) -> str:
    digest = hashlib.sha256()
    while block := source.read(COPY_BUFFER):
        digest.update(block)
    return digest.hexdigest()
