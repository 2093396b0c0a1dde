"""What backup and restore ask PostgreSQL, and how they hand a server to its tools."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from app.backup.binaries import PgTool
from app.errors import BackupError

# Tables, partitioned tables, views, materialized views, sequences, foreign tables.
USER_RELATIONS = """
SELECT n.nspname, c.relname, c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1, 2
"""
USER_SCHEMAS = """
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
ORDER BY 1
"""


def libpq_env(url: str) -> dict[str, str]:
    """The environment that points pg_dump, pg_restore or psql at url's database. The
    password goes in PGPASSWORD, never on a command line that `ps` would show."""
    parsed = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    socket_dir = parsed.query.get("host")
    host = socket_dir if isinstance(socket_dir, str) else parsed.host
    for name, value in (
        ("PGHOST", host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value is not None:
            env[name] = str(value)
    env["PGAPPNAME"] = "ordergraph-backup"
    return env


def database_name(url: str) -> str:
    return make_url(url).database or "postgres"


async def server_major(conn: AsyncConnection) -> int:
    number = int(await conn.scalar(text("SHOW server_version_num")) or 0)
    return number // 10_000


async def user_tables(conn: AsyncConnection) -> list[str]:
    """Every "schema.table" holding rows, outside PostgreSQL's own schemas."""
    rows = (await conn.execute(text(USER_RELATIONS))).all()
    return [f"{schema}.{name}" for schema, name, kind in rows if kind in ("r", "p")]


async def user_relations(conn: AsyncConnection) -> list[str]:
    rows = (await conn.execute(text(USER_RELATIONS))).all()
    return [f"{schema}.{name}" for schema, name, _ in rows]


async def row_counts(conn: AsyncConnection, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        query = text(f"SELECT count(*) FROM {quote_table(table)}")
        counts[table] = int(await conn.scalar(query) or 0)
    return counts


def quote_table(table: str) -> str:
    """ "schema.table" as a quoted SQL identifier pair."""
    return ".".join(quote_ident(part) for part in table.split(".", 1))


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def schema_revision(conn: AsyncConnection) -> str | None:
    if await conn.scalar(text("SELECT to_regclass('public.alembic_version')")) is None:
        return None
    value = await conn.scalar(text("SELECT version_num FROM public.alembic_version"))
    return None if value is None else str(value)


async def run_tool(tool: PgTool, args: list[str], *, url: str) -> None:
    """Run a PostgreSQL client tool to its end; BackupError PG_TOOL_FAILED with what it
    said on stderr when it fails."""
    process = await asyncio.create_subprocess_exec(
        str(tool.path),
        *args,
        env=libpq_env(url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        said = stderr.decode(errors="replace").strip()
        raise BackupError(
            "PG_TOOL_FAILED", f"{Path(tool.path).name} {tool.version} failed: {said[-2000:]}"
        )
