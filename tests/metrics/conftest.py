"""A real `ordergraph serve` with two worker processes, its metrics in a known directory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import ADMIN_EMAIL, seed
from tests import postgres
from tests.conftest import SMALL, token_for
from tests.events.conftest import Server, start_server, stop_server
from tests.redis_server import find_redis

METRICS_TOKEN = "scrape-secret-for-tests"


@dataclass
class Workers:
    url: str
    server: Server
    admin: str
    directory: Path


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with find_redis() as url:
        yield url


@pytest.fixture(scope="module")
async def workers(
    server_url: str, template_db: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Workers]:
    name = postgres.unique_name("metrics")
    url = await postgres.create_database(server_url, name, template=template_db)
    tmp = tmp_path_factory.mktemp("metrics")
    directory = tmp / "prometheus"
    directory.mkdir()
    # A file an earlier run left behind: serve must empty the directory before starting.
    (directory / "counter_1.db").write_bytes(b"stale")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
        await engine.dispose()
        admin = await token_for(url, ADMIN_EMAIL)
        server = start_server(
            url,
            redis_url,
            tmp / "server.log",
            WEB_CONCURRENCY="2",
            METRICS_TOKEN=METRICS_TOKEN,
            PROMETHEUS_MULTIPROC_DIR=str(directory),
        )
        try:
            yield Workers(url=url, server=server, admin=admin, directory=directory)
        finally:
            stop_server(server)
    finally:
        await engine.dispose()
        await postgres.drop_database(server_url, name)
