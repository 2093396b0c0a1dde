"""An embedded PostgreSQL (the pgserver wheel) for when no DATABASE_URL is given.

pgserver shares one server between the processes that use a data directory: each adds
its pid to a list kept in the directory, and the last one to exit stops the server. A
process killed with SIGKILL never takes its pid off that list, so the server would never
be stopped again; the dead are struck off before a process joins.
"""

from __future__ import annotations

import atexit
import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil

log = logging.getLogger(__name__)

# pgserver's own names: its logger, and the file in PGDATA that lists the pids using it.
PGSERVER_LOGGER = "pgserver"
HANDLE_LIST = ".handle_pids.json"


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) a PostgreSQL whose files live under data_dir/postgres.

    Returns an asyncpg URL over the server's unix socket. The server stops when the
    last live process using it exits, whatever became of the processes before.
    """
    pgserver = _import_pgserver()
    if not log.isEnabledFor(logging.DEBUG):
        # pgserver logs every command it runs, initdb's whole output included, at INFO.
        logging.getLogger(PGSERVER_LOGGER).setLevel(logging.WARNING)

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    with pgserver.PostgresServer._lock:
        forget_dead_users(pgdata)
        joined = _running_postmaster(pgdata)
    # Registered before pgserver's own handler, so it runs after it (atexit is LIFO).
    atexit.register(_say_how_we_left, pgdata)
    with warnings.catch_warnings():
        _ignore_runtime_dir_warning()
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    uri = urlsplit(server.get_uri())
    socket_dir = parse_qs(uri.query)["host"][0]
    log.info(
        "No DATABASE_URL: embedded PostgreSQL (%s, pid %d) with data in %s",
        "already running" if joined else "started",
        server.get_pid(),
        pgdata,
    )
    return f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"


def forget_dead_users(pgdata: Path) -> list[int]:
    """Strike the pids of processes that no longer run off pgserver's list of users of
    the server in pgdata; returns the pids kept. Call it holding pgserver's lock."""
    from pgserver.utils import DiskList

    users = DiskList(pgdata / HANDLE_LIST)
    pids: list[int] = users.get()
    alive = [pid for pid in pids if _is_alive(pid)]
    if alive != pids:
        users.put(alive)
        log.debug("embedded PostgreSQL: dropped dead users %s", sorted(set(pids) - set(alive)))
    return alive


def _import_pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns at pgserver's import when XDG_RUNTIME_DIR is unset
        # (containers, CI, su); its fallback under /tmp serves pgserver's lock file well.
        _ignore_runtime_dir_warning()
        import pgserver  # imported lazily: only the embedded path needs it
    return pgserver


def _ignore_runtime_dir_warning() -> None:
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)


def _is_alive(pid: int) -> bool:
    try:
        status: str = psutil.Process(pid).status()
    except psutil.Error:
        return False
    return bool(status != psutil.STATUS_ZOMBIE)


def _running_postmaster(pgdata: Path) -> int | None:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if _is_alive(pid) else None


def _say_how_we_left(pgdata: Path) -> None:
    postmaster = _running_postmaster(pgdata)
    if postmaster is None:
        log.info("Embedded PostgreSQL stopped")
    else:
        log.info("Embedded PostgreSQL left running (pid %d) for its other users", postmaster)
