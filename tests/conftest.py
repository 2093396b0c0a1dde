"""Shared fixtures: a real PostgreSQL, a migrated template, seeded and empty databases,
and an in-process client for the app."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db import migrate
from app.db.engine import transaction
from app.db.seed import ADMIN_EMAIL, SeedSpec, seed
from app.main import create_app
from app.services.audit import CLI
from app.services.tokens import NewToken, create_api_token
from app.settings import Settings
from tests import postgres

# The standard data set: small enough to compare with SQL, big enough to page through.
STANDARD = SeedSpec(users=30, orders_per_user=4, items_per_order=3, products=40, seed=7)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    with postgres.find_server() as url:
        yield url


@pytest.fixture(scope="session")
async def template_db(server_url: str) -> AsyncIterator[str]:
    """A migrated, empty database to clone (CREATE DATABASE ... TEMPLATE is fast)."""
    name = postgres.unique_name("template")
    url = await postgres.create_database(server_url, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        yield name
    finally:
        await postgres.drop_database(server_url, name)


@pytest.fixture(scope="session")
async def seeded_url(server_url: str, template_db: str) -> AsyncIterator[str]:
    """The standard data set, shared by every test that only reads."""
    name = postgres.unique_name("seeded")
    url = await postgres.create_database(server_url, name, template=template_db)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await seed(conn, STANDARD)
        await engine.dispose()
        yield url
    finally:
        await engine.dispose()
        await postgres.drop_database(server_url, name)


@pytest.fixture
async def empty_url(server_url: str, template_db: str) -> AsyncIterator[str]:
    """A migrated database of the test's own, for tests that write."""
    name = postgres.unique_name("empty")
    url = await postgres.create_database(server_url, name, template=template_db)
    try:
        yield url
    finally:
        await postgres.drop_database(server_url, name)


@pytest.fixture
async def engine(seeded_url: str) -> AsyncIterator[AsyncEngine]:
    """A direct engine on the seeded database, to compute expected answers in SQL."""
    engine = create_async_engine(seeded_url)
    yield engine
    await engine.dispose()


# The test client's request a statement belongs to, if any. Set around each request the
# client sends; tasks started inside the request (loader batches) copy it, and SQLAlchemy
# hands it on to the greenlet that runs the cursor. The relay and the broker start in the
# lifespan, outside every request, so their polls carry no request.
_REQUEST: ContextVar[int | None] = ContextVar("test_request", default=None)
_REQUEST_IDS = itertools.count(1)


class TaggedRequests:
    """`app`, with every request it serves tagged for `StatementLog`; anything else
    (`state`, which some tests read) is the app's own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _REQUEST.set(next(_REQUEST_IDS))
        try:
            await self.app(scope, receive, send)
        finally:
            _REQUEST.reset(token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


class StatementLog:
    """The SQL statements the app's engine sends on behalf of requests (see
    `TaggedRequests`); background work (the relay's and broker's polls) is not counted."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if _REQUEST.get() is not None:
            self.statements.append(statement)

    def clear(self) -> None:
        self.statements.clear()


class Api:
    """An in-process client for the app; `query` returns the decoded response body.

    Requests carry `token` (an admin's, for the shared fixtures) unless it is None.
    """

    # The app itself, for tests that look at its state (running_app sets it).
    app: Any = None

    def __init__(
        self, client: httpx.AsyncClient, statements: StatementLog, url: str, token: str | None
    ) -> None:
        self.client = client
        self.statements = statements
        self.url = url
        self.token = token

    def as_(self, token: str | None) -> Api:
        """The same app, asked by whoever holds `token` (None: anonymous)."""
        return Api(self.client, self.statements, self.url, token)

    async def as_user(self, email: str) -> Api:
        return self.as_(await token_for(self.url, email))

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    async def query(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        response = await self.client.post(
            "/graphql", json={"query": document, "variables": variables}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def counted(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        """`data`, with `statements` holding only what this request sent once the caller's
        token is known (verification is cached per process: see AUTH_CACHE_SECONDS)."""
        await self.data("{ viewer { id } }")
        self.statements.clear()
        return await self.data(document, variables)

    async def data(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        body = await self.query(document, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def error(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The single error a request must produce."""
        body = await self.query(document, variables)
        assert len(body.get("errors", [])) == 1, body
        error: dict[str, Any] = body["errors"][0]
        return error


async def token_for(url: str, email: str, *, expires_in: int | None = None) -> str:
    """A fresh API token for the user with `email`, made through the service."""
    engine = create_async_engine(url)
    try:
        async with transaction(engine) as conn:
            user_id = (
                await conn.execute(text("SELECT id FROM users WHERE email = :e"), {"e": email})
            ).scalar_one()
            secret, _ = await create_api_token(
                conn,
                actor=CLI,
                user_id=user_id,
                data=NewToken(name="test", expires_in_days=expires_in),
            )
            return secret
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def running_app(url: str, *, as_admin: bool = True, **overrides: Any) -> AsyncIterator[Api]:
    """The app on `url`, with its lifespan running, served in-process over httpx.

    Requests are an admin's when the database has admin@example.com, else anonymous.
    """
    app = create_app(Settings(database_url=url, **overrides))
    statements = StatementLog()
    token = None
    if as_admin:
        with contextlib.suppress(NoResultFound):
            token = await token_for(url, ADMIN_EMAIL)
    async with app.router.lifespan_context(app):
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", statements)
        transport = httpx.ASGITransport(app=TaggedRequests(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            api = Api(client, statements, url, token)
            api.app = app
            yield api


@pytest.fixture
async def api(seeded_url: str) -> AsyncIterator[Api]:
    async with running_app(seeded_url) as api:
        yield api


@pytest.fixture
async def empty_api(empty_url: str) -> AsyncIterator[Api]:
    async with running_app(empty_url) as api:
        yield api


# A small data set for tests that write: 3 users with an order each, 5 products.
SMALL = SeedSpec(users=3, orders_per_user=1, items_per_order=2, products=5, seed=3)


@pytest.fixture
async def wapi(empty_url: str) -> AsyncIterator[Api]:
    """An admin's client on a database of the test's own, seeded with SMALL."""
    engine = create_async_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
    finally:
        await engine.dispose()
    async with running_app(empty_url) as api:
        yield api
