"""An embedded PostgreSQL (the pgserver wheel) for when no DATABASE_URL is given."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) a PostgreSQL whose files live under data_dir/postgres.

    Returns an asyncpg URL over the server's unix socket. The server stops when the
    last process using it exits.
    """
    import pgserver  # imported lazily: only the embedded path needs it

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
        warnings.simplefilter("ignore")
        server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    uri = urlsplit(server.get_uri())
    socket_dir = parse_qs(uri.query)["host"][0]
    url = f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"
    log.info("No DATABASE_URL: using embedded PostgreSQL with data in %s", pgdata)
    return url
