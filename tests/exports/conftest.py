"""Two real server processes on one seeded database, for exports and signed links: the
downloads go through httpx, as users script them."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import ADMIN_EMAIL, seed
from tests import postgres
from tests.conftest import STANDARD, token_for
from tests.events.conftest import Server, start_server, stop_server
from tests.redis_server import find_redis

# Small batches: every export of the standard data set spans many of them.
BATCH_ROWS = "7"
# Server b's links expire after a second: the expiry test waits that long, no more.
SHORT_LINK_SECONDS = "1"


@dataclass
class Site:
    url: str
    a: Server
    b: Server
    tokens: dict[str, str] = field(default_factory=dict)

    async def token(self, email: str) -> str:
        if email not in self.tokens:
            self.tokens[email] = await token_for(self.url, email)
        return self.tokens[email]

    async def admin(self) -> str:
        return await self.token(ADMIN_EMAIL)

    async def graphql(
        self, query: str, token: str | None = None, server: Server | None = None, **variables: Any
    ) -> dict[str, Any]:
        """The whole response body."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                (server or self.a).http,
                json={"query": query, "variables": variables},
                headers=headers,
            )
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, token: str | None = None, **variables: Any) -> Any:
        body = await self.graphql(query, token, **variables)
        assert "errors" not in body, body
        return body["data"]

    async def download(
        self,
        path: str,
        token: str | None = None,
        *,
        server: Server | None = None,
        **params: Any,
    ) -> httpx.Response:
        """GET an export; JSON-valued params (filter, orderBy) are encoded as JSON."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        query = {
            k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in params.items()
        }
        base = f"http://127.0.0.1:{(server or self.a).port}"
        async with httpx.AsyncClient(timeout=60) as client:
            return await client.get(base + path, params=query, headers=headers)


def csv_rows(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode(), newline="")))


def ndjson(response: httpx.Response) -> list[Any]:
    return [orjson.loads(line) for line in response.content.splitlines()]


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The one error of a download's answer, in the shape /graphql answers a request
    that cannot run: {"errors": [{"message", "extensions": {"code", ...}}]}."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["errors"], body
    [error] = body["errors"]
    assert set(error) == {"message", "extensions"}, error
    assert isinstance(error, dict)
    return error


def code_of(response: httpx.Response, status: int) -> str:
    code: str = error_of(response, status)["extensions"]["code"]
    return code


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with find_redis() as url:
        yield url


@pytest.fixture(scope="module")
async def site(
    server_url: str, template_db: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Site]:
    name = postgres.unique_name("exports")
    url = await postgres.create_database(server_url, name, template=template_db)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await seed(conn, STANDARD)
        await engine.dispose()
        logs = tmp_path_factory.mktemp("exports")
        common = {"EXPORT_BATCH_ROWS": BATCH_ROWS, "AUTH_CACHE_SECONDS": "0"}
        a = start_server(url, redis_url, logs / "a.log", **common)
        b = start_server(
            url, redis_url, logs / "b.log", EXPORT_LINK_SECONDS=SHORT_LINK_SECONDS, **common
        )
        try:
            yield Site(url=url, a=a, b=b)
        finally:
            stop_server(a)
            stop_server(b)
    finally:
        await engine.dispose()
        await postgres.drop_database(server_url, name)
