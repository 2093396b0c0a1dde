"""The ordergraph command, end to end: what `make run` does on a fresh machine."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

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


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_without_database_url_uses_embedded_postgres(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """No DATABASE_URL: an embedded PostgreSQL, migrated and seeded, serves Heavy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DATA_DIR=str(tmp_path / "data"), PORT=str(port), LOG_LEVEL="info")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*ORDERGRAPH, "serve", "--migrate", "--demo-data"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            token = re.search(r"Bearer (og_\S+)", log.read_text())
            assert token, log.read_text()
            response = httpx.post(
                f"{base}/graphql",
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
    assert text.count("using embedded PostgreSQL") == 1, text
    assert str(tmp_path / "data") in text
    # The embedded server stopped with us: its pid file is gone.
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()


def test_unreachable_database_is_one_clear_line_without_the_password() -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql+asyncpg://u:s3cret@127.0.0.1:1/x"}
    result = subprocess.run([*ORDERGRAPH, "migrate"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "cannot reach PostgreSQL at postgresql+asyncpg://u:***@127.0.0.1:1/x" in result.stderr
    assert "s3cret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_names_the_variable() -> None:
    env = {**os.environ, "PORT": "eighty"}
    result = subprocess.run([*ORDERGRAPH, "schema"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "PORT" in result.stderr
    assert "Traceback" not in result.stderr
