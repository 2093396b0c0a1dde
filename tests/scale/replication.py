"""A PostgreSQL primary and a streaming replica of it, made for one test module.

The primary is a cluster of its own (initdb in a temporary directory, wal_level=replica,
a replication line in pg_hba.conf), never the shared server; the replica is
`pg_basebackup -R` of it. Both listen on free loopback ports and are removed afterwards.
The Debian binaries run as the postgres user when the tests run as root (PostgreSQL
refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.redis_server import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def missing() -> str | None:
    """Why a primary and replica cannot be made here, or None."""
    for tool in ("initdb", "pg_ctl", "pg_basebackup"):
        if not (PG_BIN / tool).exists():
            return f"{PG_BIN / tool} is missing (Debian's postgresql-15)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser to start PostgreSQL as postgres"
    return None


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = list(args)
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)


@dataclass
class Node:
    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        _run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.data / "server.log"),
            "-o",
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1",
            "-w",
            "start",
        )

    def stop(self) -> None:
        _run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)


@dataclass
class Pair:
    primary: Node
    replica: Node


@contextlib.contextmanager
def primary_and_replica() -> Iterator[Pair]:
    root = Path(tempfile.mkdtemp(prefix="og-replication-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary = Node(root / "primary", free_port())
    replica = Node(root / "replica", free_port())
    started: list[Node] = []
    try:
        _run(str(PG_BIN / "initdb"), "-D", str(primary.data), "-U", "postgres", "-A", "trust")
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\nfsync = off\n")
        with (primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        primary.start()
        started.append(primary)
        _run(
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(replica.data),
            "-R",
            "-X",
            "stream",
        )
        replica.start()
        started.append(replica)
        yield Pair(primary, replica)
    finally:
        for node in reversed(started):
            node.stop()
        shutil.rmtree(root, ignore_errors=True)
