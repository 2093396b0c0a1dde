"""The embedded PostgreSQL: quiet to start, shared by live processes, stopped by the last.

Each test starts real pgserver servers in a data directory of its own (initdb takes a
few seconds) from helper processes that hold the server until their stdin closes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

# Starts the embedded server, says so on stdout, then holds it until stdin closes.
HOLDER = """
import logging, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
from app.db.embedded import start_embedded_postgres
print(start_embedded_postgres(Path(sys.argv[1])), flush=True)
sys.stdin.read()
"""


STARTED = (
    r"INFO app\.db\.embedded: No DATABASE_URL: embedded PostgreSQL "
    r"\((started|already running), pid \d+\) with data in .+"
)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "DATABASE_URL")}


class Holder:
    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(data_dir)],
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("postgresql+asyncpg://"), self.process.communicate()

    def stop(self) -> str:
        """Exit cleanly; the process's log."""
        _, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err
        return err

    def kill(self) -> None:
        self.process.kill()
        self.process.communicate(timeout=30)


def postmaster(data_dir: Path) -> int | None:
    """The pid of the embedded server while it runs."""
    pid_file = data_dir / "postgres" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    try:
        running = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return None
    return pid if running else None


@contextlib.contextmanager
def embedded_data_dir() -> Iterator[Path]:
    """A data directory for an embedded server, removed afterwards with nothing running.

    Not under pytest's tmp_path: as root, pgserver runs PostgreSQL as another user and
    opens the directory's parents to it, and a pytest session starting meanwhile (other
    runs share the machine) makes /tmp/pytest-of-root private again. Short, too: the
    server's socket lives in it, and a socket's path is short.
    """
    path = Path(tempfile.mkdtemp(prefix="og-embedded-"))
    try:
        yield path
    finally:
        pid = postmaster(path)
        if pid is not None:  # a failed test leaves nothing running
            os.kill(pid, signal.SIGQUIT)
            psutil.Process(pid).wait(30)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with embedded_data_dir() as path:
        yield path


def test_start_logs_one_line_of_ours_and_nothing_of_pgservers(data_dir: Path) -> None:
    holder = Holder(data_dir)
    err = holder.stop()
    lines = err.splitlines()
    assert all(line.startswith("INFO app.db.embedded: ") for line in lines), err
    started = [line for line in lines if re.fullmatch(STARTED, line)]
    assert started == [line for line in lines if "with data in" in line], err
    assert started[0].endswith(f"with data in {data_dir / 'postgres'}"), err
    assert lines[-1] == "INFO app.db.embedded: Embedded PostgreSQL stopped", err
    assert len(lines) == 2, err
    assert "XDG_RUNTIME_DIR" not in err


def test_a_killed_user_does_not_keep_the_server_running(data_dir: Path) -> None:
    killed = Holder(data_dir)
    killed.kill()
    orphan = postmaster(data_dir)
    assert orphan is not None  # pgserver's server outlives a SIGKILLed user

    successor = Holder(data_dir)
    assert postmaster(data_dir) == orphan  # joined, not started again
    err = successor.stop()

    assert postmaster(data_dir) is None, err
    assert not (data_dir / "postgres" / "postmaster.pid").exists()


def test_live_users_share_the_server_and_the_last_to_leave_stops_it(data_dir: Path) -> None:
    first = Holder(data_dir)
    second = Holder(data_dir)
    pid = postmaster(data_dir)
    assert pid is not None

    err = first.stop()
    assert postmaster(data_dir) == pid, err
    assert "left running" in err

    err = second.stop()
    deadline = time.monotonic() + 10
    while postmaster(data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert postmaster(data_dir) is None, err
