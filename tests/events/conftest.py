"""Two real server processes sharing one PostgreSQL and one Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import ADMIN_EMAIL, seed
from tests import postgres
from tests.conftest import SMALL, token_for
from tests.redis_server import PrivateRedis, find_redis, free_port, private_redis

RECHECK_SECONDS = 2


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"


@dataclass
class Cluster:
    url: str
    a: Server
    b: Server
    admin: str
    tokens: dict[str, str] = field(default_factory=dict)

    async def token(self, email: str) -> str:
        if email not in self.tokens:
            self.tokens[email] = await token_for(self.url, email)
        return self.tokens[email]

    async def call(
        self, server: Server, token: str | None, query: str, **variables: object
    ) -> dict[str, Any]:
        """The data of a request that has no GraphQL errors (payloads may hold some)."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                server.http, json={"query": query, "variables": variables}, headers=headers
            )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


def start_server(url: str, redis_url: str, log: Path, **extra: str) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "EVENTS_POLL_SECONDS": "0.5",
        "LOG_LEVEL": "warning",
        # No load balancer to wait for: stop at once (tests of the drain set their own).
        "SHUTDOWN_DRAIN_SECONDS": "0",
        **extra,
    }
    output = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            output.close()
            raise AssertionError(log.read_text())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return Server(port, process, output)
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def stop_server(server: Server) -> None:
    server.process.terminate()
    server.process.wait(30)
    server.log.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with find_redis() as url:
        yield url


@pytest.fixture(scope="session")
def own_redis() -> Iterator[PrivateRedis]:
    """A Redis only these tests use, so they may stop and start it."""
    with private_redis() as server:
        yield server


async def _cluster(
    server_url: str, template_db: str, redis_url: str, tmp: Path, **extra: str
) -> AsyncIterator[Cluster]:
    name = postgres.unique_name("events")
    url = await postgres.create_database(server_url, name, template=template_db)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
        await engine.dispose()
        admin = await token_for(url, ADMIN_EMAIL)
        a = start_server(url, redis_url, tmp / "a.log", **extra)
        b = start_server(url, redis_url, tmp / "b.log", **extra)
        try:
            yield Cluster(url=url, a=a, b=b, admin=admin)
        finally:
            stop_server(a)
            stop_server(b)
    finally:
        await engine.dispose()
        await postgres.drop_database(server_url, name)


@pytest.fixture(scope="module")
async def cluster(
    server_url: str, template_db: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    async for value in _cluster(
        server_url,
        template_db,
        redis_url,
        tmp_path_factory.mktemp("cluster"),
        SUBSCRIBER_QUEUE_SIZE="20",
        # Subscriptions check their credential again every AUTH_CACHE_SECONDS: short, so
        # the tests of revocation and demotion wait little.
        AUTH_CACHE_SECONDS=str(RECHECK_SECONDS),
        WS_INIT_TIMEOUT_SECONDS="1",
        WS_MAX_SUBSCRIPTIONS="3",
    ):
        yield value


@pytest.fixture
async def fragile_cluster(
    server_url: str, template_db: str, own_redis: PrivateRedis, tmp_path: Path
) -> AsyncIterator[Cluster]:
    """Two servers on a Redis the test may stop."""
    async for value in _cluster(server_url, template_db, own_redis.url, tmp_path):
        yield value
