"""The ordergraph command, end to end: what `make run` does on a fresh machine."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.api_tokens import find_token
from app.auth.viewer import Viewer
from app.cli import ADMIN_TOKEN_FILE, _demo_admin_token
from app.db.engine import transaction
from app.db.identity import api_tokens
from app.db.seed import seed
from app.services.audit import Actor
from app.services.tokens import revoke_api_token
from tests import postgres
from tests.conftest import SMALL
from tests.db.test_embedded import embedded_data_dir, postmaster
from tests.graphql.operations import HEAVY
from tests.graphql.test_schema import SCHEMA_FILE

ORDERGRAPH = [sys.executable, "-m", "app.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_schema_command_prints_the_contract() -> None:
    output = subprocess.run([*ORDERGRAPH, "schema"], capture_output=True, text=True, check=True)
    assert output.stdout == SCHEMA_FILE.read_text()


def embedded_env(data_dir: Path, port: int) -> dict[str, str]:
    """The environment of a newcomer: no DATABASE_URL, no XDG_RUNTIME_DIR."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "XDG_RUNTIME_DIR")}
    env.update(DATA_DIR=str(data_dir), PORT=str(port), LOG_LEVEL="info")
    return env


def start_serving(env: dict[str, str], log: Path, *flags: str) -> subprocess.Popen[bytes]:
    """`ordergraph serve` with its output in log, once /readyz answers."""
    with log.open("a") as out:
        process = subprocess.Popen(
            [*ORDERGRAPH, "serve", *flags], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{env['PORT']}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with embedded_data_dir() as path:
        yield path


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_without_database_url_uses_embedded_postgres(
    tmp_path: Path, data_dir: Path, stop: signal.Signals
) -> None:
    """No DATABASE_URL: an embedded PostgreSQL, migrated and seeded, serves Heavy."""
    port = free_port()
    log = tmp_path / "serve.log"
    process = start_serving(embedded_env(data_dir, port), log, "--migrate", "--demo-data")
    try:
        token = re.search(r"Bearer (og_\S+)", log.read_text())
        assert token, log.read_text()
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": HEAVY, "variables": {"first": 5, "orders": 2}},
            headers={"authorization": f"Bearer {token[1]}"},
            timeout=30,
        )
        data = response.json()["data"]["users"]
        assert data["totalCount"] == 201  # the demo data: 200 users and the admin
        assert len(data["edges"]) == 5
        assert data["edges"][0]["node"]["email"] == "admin@example.com"
        assert data["edges"][0]["node"]["orders"]["edges"][0]["node"]["items"]
    finally:
        process.send_signal(stop)
        process.wait(timeout=30)
    text = log.read_text()
    assert len(re.findall(r"embedded PostgreSQL \(started, pid \d+\) with data in", text)) == 1
    assert str(data_dir) in text
    # Nothing of pgserver's own chatter, nor platformdirs' complaint about XDG_RUNTIME_DIR.
    assert " pgserver: " not in text, text
    assert "RuntimeDirWarning" not in text, text
    # The embedded server stopped with us: its pid file is gone.
    assert not (data_dir / "postgres" / "postmaster.pid").exists()


def test_clean_stop_after_a_killed_server_stops_embedded_postgres(
    tmp_path: Path, data_dir: Path
) -> None:
    """A server SIGKILLed leaves PostgreSQL running; the next one's clean stop stops it."""
    env = embedded_env(data_dir, free_port())
    log = tmp_path / "serve.log"
    killed = start_serving(env, log, "--migrate")
    killed.kill()
    killed.wait(timeout=30)
    orphan = postmaster(data_dir)
    assert orphan is not None, log.read_text()

    successor = start_serving(env, log, "--migrate")
    assert postmaster(data_dir) == orphan  # it joined the orphan rather than start another
    successor.send_signal(signal.SIGTERM)
    successor.wait(timeout=30)

    assert postmaster(data_dir) is None, log.read_text()
    assert not (data_dir / "postgres" / "postmaster.pid").exists()


@pytest.fixture
def demo_db(empty_url: str) -> str:
    """A database with the small data set, admin@example.com among its users."""

    async def load() -> None:
        engine = create_async_engine(empty_url)
        try:
            async with engine.begin() as conn:
                await seed(conn, SMALL)
        finally:
            await engine.dispose()

    asyncio.run(load())
    return empty_url


def _admin_of(url: str, secret: str) -> bool:
    async def check() -> bool:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                record = await find_token(conn, secret)
        finally:
            await engine.dispose()
        return record is not None and record.role == "admin" and record.revoked_at is None

    return asyncio.run(check())


def _change_token(
    url: str, secret: str, *, revoke: bool = False, expires_at: datetime | None = None
) -> None:
    async def change() -> None:
        engine = create_async_engine(url)
        try:
            async with transaction(engine) as conn:
                record = await find_token(conn, secret)
                assert record is not None
                if expires_at is not None:
                    await conn.execute(
                        update(api_tokens)
                        .where(api_tokens.c.id == record.id)
                        .values(expires_at=expires_at)
                    )
                if revoke:  # by the admin themselves, as revokeApiToken would
                    admin = Actor(viewer=Viewer(user_id=record.user_id, role=record.role))
                    await revoke_api_token(conn, actor=admin, token_id=record.id)
        finally:
            await engine.dispose()

    asyncio.run(change())


def test_demo_admin_token_is_kept_private_and_reused_while_valid(
    demo_db: str, tmp_path: Path
) -> None:
    token_file = tmp_path / ADMIN_TOKEN_FILE
    secret, expires_at, reused = _demo_admin_token(demo_db, token_file)
    assert not reused
    assert _admin_of(demo_db, secret)
    assert token_file.read_text() == secret + "\n"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert timedelta(hours=23) < expires_at - datetime.now(UTC) <= timedelta(days=1)

    assert _demo_admin_token(demo_db, token_file) == (secret, expires_at, True)


@pytest.mark.parametrize(
    "why", ["revoked", "expiring within the hour", "unknown to this database", "a stray file"]
)
def test_demo_admin_token_is_new_when_the_kept_one_will_not_do(
    demo_db: str, tmp_path: Path, why: str
) -> None:
    token_file = tmp_path / ADMIN_TOKEN_FILE
    if why == "a stray file":
        token_file.write_text("not a token\n")
        token_file.chmod(0o644)
        kept = ""
    else:
        kept, _, _ = _demo_admin_token(demo_db, token_file)
    if why == "revoked":
        _change_token(demo_db, kept, revoke=True)
    elif why == "expiring within the hour":
        _change_token(demo_db, kept, expires_at=datetime.now(UTC) + timedelta(minutes=30))
    elif why == "unknown to this database":
        token_file.write_text("og_" + "x" * 43 + "\n")
        kept = ""

    secret, _, reused = _demo_admin_token(demo_db, token_file)
    assert not reused
    assert secret != kept
    assert _admin_of(demo_db, secret)
    assert token_file.read_text() == secret + "\n"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_unreachable_database_is_one_clear_line_without_the_password() -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql+asyncpg://u:s3cret@127.0.0.1:1/x"}
    result = subprocess.run([*ORDERGRAPH, "migrate"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "cannot reach PostgreSQL at postgresql+asyncpg://u:***@127.0.0.1:1/x" in result.stderr
    assert "s3cret" not in result.stderr
    assert "Traceback" not in result.stderr


async def test_token_before_migrating_says_to_migrate(server_url: str) -> None:
    name = postgres.unique_name("bare")
    url = await postgres.create_database(server_url, name)
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            [*ORDERGRAPH, "token", "create", "--email", "admin@example.com"],
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
        )
    finally:
        await postgres.drop_database(server_url, name)
    assert result.returncode == 1
    assert "has no tables yet: run `make run` or `make migrate` first" in result.stderr
    assert "cannot reach" not in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_names_the_variable() -> None:
    env = {**os.environ, "PORT": "eighty"}
    result = subprocess.run([*ORDERGRAPH, "schema"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "PORT" in result.stderr
    assert "Traceback" not in result.stderr
