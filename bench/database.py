"""The bench's own database: created, migrated and seeded once per data-set size.

The seed that a database holds is written in its comment after seeding completes, so
a later run reuses it only when it holds exactly that seed (a seed interrupted halfway
leaves no comment and is redone).
"""

from __future__ import annotations

import asyncio
import os
import subprocess

from sqlalchemy.engine import make_url

from bench.setup import CLI
from tests import postgres

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def seed_args(users: int) -> list[str]:
    return f"--users {users} --orders-per-user 10 --items-per-order 3 --products 1000".split()


def server_url(database_url: str | None) -> str:
    """The maintenance database on the server given (--database-url, DATABASE_URL)."""
    url = database_url or os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+asyncpg://" + url[len(prefix) :]
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def dsn(url: str) -> str:
    """The plain libpq form of an asyncpg URL (for asyncpg itself and for Node)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def ensure(server: str, *, users: int, reseed: bool) -> str:
    """The URL of `ordergraph_bench_<users>`, migrated and holding the bench's seed."""
    name = f"ordergraph_bench_{users}"
    url = postgres.with_database(server, name)
    marker = "ordergraph bench seed: " + " ".join(seed_args(users))
    conn = await postgres.admin_connection(server)
    try:
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            name,
        )
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        fresh = reseed or comment != marker
        if fresh:
            if exists:
                await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    env = {**os.environ, "DATABASE_URL": url}
    await asyncio.to_thread(
        subprocess.run, [*CLI, "migrate", "up"], env=env, check=True, capture_output=True
    )
    if fresh:
        print(f"seeding {name} ({' '.join(seed_args(users))}) ...", flush=True)
        await asyncio.to_thread(
            subprocess.run, [*CLI, "seed", *seed_args(users)], env=env, check=True
        )
        conn = await postgres.admin_connection(server)
        try:
            await conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{marker}'")
        finally:
            await conn.close()
    return url
