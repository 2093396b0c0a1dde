"""`ordergraph backup` and `restore` as a user runs them: the README's commands as
written, and one clear line for each mistake."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.backup import crypto
from app.backup.container import read_header
from tests import postgres
from tests.backup.conftest import contents
from tests.db.test_embedded import embedded_data_dir

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SECTION = README.split("## Backup and recovery", 1)[1].split("\n## ", 1)[0]
COMMANDS = re.findall(r"```sh\n(.*?)```", SECTION, re.S)[0]
ORDERGRAPH = [sys.executable, "-m", "app.cli"]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ORDERGRAPH, *args], env=env, capture_output=True, text=True, cwd=ROOT)


def clean_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BACKUP_KEY", "PG_BIN_DIR")}
    return {**env, "DATABASE_URL": url, **extra}


async def test_the_readme_commands_run_as_written(
    server_url: str, source_url: str, tmp_path: Path
) -> None:
    if make_url(server_url).port != 5432 or make_url(server_url).host != "127.0.0.1":
        pytest.skip("the README's commands name the server on 127.0.0.1:5432")
    restored_name = postgres.unique_name("readme_restored")
    script = COMMANDS.replace(".venv/bin/ordergraph", str(ROOT / ".venv/bin/ordergraph"))
    script = script.replace("ordergraph_restored", restored_name)
    before = await contents(source_url)
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-e", "-c", script],
            env=clean_env(source_url),
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        assert sorted(await asyncio.to_thread(os.listdir, tmp_path)) == [
            "nightly-sealed.ogbackup",
            "nightly.ogbackup",
        ]
        restored = postgres.with_database(server_url, restored_name)
        assert await contents(restored) == before
        assert await contents(source_url) == before
        assert "Traceback" not in result.stderr
    finally:
        await postgres.drop_database(server_url, restored_name)


def test_keygen_prints_a_key_backup_key_accepts() -> None:
    result = run("backup", "keygen", env=clean_env("postgresql://x@127.0.0.1:1/x"))
    assert result.returncode == 0
    assert len(crypto.parse_key(result.stdout.strip())) == 32


def test_encrypt_without_backup_key_says_how_to_make_one(seeded_url: str, tmp_path: Path) -> None:
    result = run("backup", "--encrypt", "--out", str(tmp_path / "x"), env=clean_env(seeded_url))
    assert result.returncode == 1
    assert "backup: BACKUP_KEY_MISSING:" in result.stderr
    assert "ordergraph backup keygen" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_backup_key_is_a_bad_setting(seeded_url: str) -> None:
    result = run("backup", env=clean_env(seeded_url, BACKUP_KEY="c2hvcnQ="))
    assert result.returncode == 2
    assert "BACKUP_KEY" in result.stderr
    assert "c2hvcnQ=" not in result.stderr
    assert "Traceback" not in result.stderr


def test_restoring_a_foreign_file_is_one_clear_line(seeded_url: str, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    result = run("restore", str(junk), env=clean_env(seeded_url))
    assert result.returncode == 1
    assert "restore: BACKUP_FOREIGN_FILE: not an ordergraph backup" in result.stderr
    assert "Traceback" not in result.stderr


def test_restore_into_a_url_of_another_kind_is_refused(tmp_path: Path) -> None:
    result = run("restore", str(tmp_path / "x"), "--into", "mysql://db", env=clean_env(""))
    assert result.returncode == 2
    assert "--into must start with postgresql+asyncpg://" in result.stderr


def test_the_embedded_server_is_backed_up_with_its_own_pg_dump(tmp_path: Path) -> None:
    """No DATABASE_URL: the embedded PostgreSQL 16 is dumped and restored with the
    wheel's own 16 binaries (Debian's 15 would refuse it)."""
    with embedded_data_dir() as data_dir:
        env = {k: v for k, v in clean_env("").items() if k != "DATABASE_URL"}
        env.update(DATA_DIR=str(data_dir), LOG_LEVEL="info")
        out = tmp_path / "embedded.ogbackup"
        assert run("migrate", env=env).returncode == 0
        backup = run("backup", "--out", str(out), env=env)
        assert backup.returncode == 0, backup.stderr
        restore = run("restore", str(out), "--force", env=env)
        assert restore.returncode == 0, restore.stderr
    with out.open("rb") as source:
        manifest, _ = read_header(source)
    server_major = manifest.server_version.split(".")[0]
    assert manifest.pg_dump_version.split(".")[0] == server_major == "16"
    assert f"with pg_restore {manifest.pg_dump_version}" in restore.stderr
    assert manifest.schema_revision is not None
