"""A real PgBouncer (Debian's package) in transaction pooling mode, in front of the
shared test PostgreSQL, on a free loopback port; removed afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.redis_server import free_port

# Fewer server connections than the app's pool: many client connections share each
# server connection, as in production, which is what breaks session-bound state.
SERVER_POOL_SIZE = 3


def binary() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


@contextlib.contextmanager
def pgbouncer(server_url: str) -> Iterator[int]:
    """Yield the port of a PgBouncer pooling transactions onto server_url's server."""
    exe = binary()
    assert exe is not None
    server = make_url(server_url)
    root = Path(tempfile.mkdtemp(prefix="og-pgbouncer-"))
    port = free_port()
    (root / "users.txt").write_text('"postgres" ""\n')
    (root / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={server.host or "127.0.0.1"} port={server.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {root / "users.txt"}
pool_mode = transaction
default_pool_size = {SERVER_POOL_SIZE}
max_client_conn = 200
server_reset_query =
logfile = {root / "pgbouncer.log"}
pidfile = {root / "pgbouncer.pid"}
"""
    )
    command = [exe, str(root / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        for name in ("users.txt", "pgbouncer.ini"):
            shutil.chown(root / name, "postgres", "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None, (root / "pgbouncer.log").read_text()
            assert time.monotonic() < deadline, "pgbouncer did not start"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(root, ignore_errors=True)
