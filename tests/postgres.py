"""Finding a real PostgreSQL for the tests, and making throwaway databases on it.

Order: TEST_DATABASE_URL; a Docker engine through testcontainers; a server answering
on 127.0.0.1:5432; the embedded pgserver wheel. Never a mock, never SQLite.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

PREFIX = "ordergraph_test_"


@contextlib.contextmanager
def find_server() -> Iterator[str]:
    """Yield an asyncpg URL to a maintenance database on a real server."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url.replace("postgresql://", "postgresql+asyncpg://", 1)
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="asyncpg") as container:
            yield container.get_connection_url()
        return
    if _port_open("127.0.0.1", 5432):
        yield "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        return
    from app.db.embedded import start_embedded_postgres

    with tempfile.TemporaryDirectory(prefix="og-pg-") as data_dir:
        yield start_embedded_postgres(Path(data_dir))


def _docker_available() -> bool:
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    import docker  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=2)
        except Exception:
            return False
        try:
            return bool(client.ping())
        except Exception:
            return False
        finally:
            client.close()


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def unique_name(kind: str) -> str:
    return f"{PREFIX}{kind}_{secrets.token_hex(4)}"


async def admin_connection(server_url: str) -> asyncpg.Connection:
    url = make_url(server_url)
    socket_dir = url.query.get("host")
    return await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=str(socket_dir) if socket_dir else url.host,
        port=url.port,
        database=url.database or "postgres",
    )


async def create_database(server_url: str, name: str, *, template: str | None = None) -> str:
    conn = await admin_connection(server_url)
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    conn = await admin_connection(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
