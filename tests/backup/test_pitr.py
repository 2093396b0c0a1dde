"""scripts/pitr-demo.sh: WAL archiving and recovery to a time between two commits, on a
throwaway PostgreSQL 15 cluster of its own (a free port, a temporary directory)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pitr-demo.sh"
BIN = Path(os.environ.get("PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))
TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "psql")


@pytest.mark.slow
def test_recovery_to_a_time_keeps_the_first_change_and_not_the_second() -> None:
    missing = [tool for tool in TOOLS if not (BIN / tool).exists()]
    if missing:
        pytest.skip(f"PITR needs PostgreSQL's {', '.join(missing)} in {BIN} (set PG_BIN_DIR)")
    # Not under pytest's tmp_path: as root, the cluster runs as the postgres user, which
    # cannot traverse pytest's private directories.
    with tempfile.TemporaryDirectory(prefix="og-pitr-test-") as name:
        work = Path(name)
        work.chmod(0o755)
        result = _run(work)
        left = list(work.iterdir())
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "restored rows: before the base backup | change 1" in lines, result.stdout
    assert "PITR OK: change 1 is there, change 2 is not" in lines
    assert any(line.startswith("recovery stopping before commit") for line in lines)
    assert left == []  # the cluster and its archive are gone


def _run(work: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "TMPDIR": str(work), "PG_BIN_DIR": str(BIN)},
        capture_output=True,
        text=True,
        timeout=300,
    )
