"""A person with a history everywhere ordergraph keeps data, others beside them, and the
proofs' tools: a whole-database pg_dump and a scan of the test's Redis namespace."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as redis
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.identities import BoundUser, Identity, bind_identity
from app.backup import pg
from app.backup.binaries import find_tool
from app.db.engine import transaction
from tests.conftest import Api, running_app, token_for
from tests.dbtools import fetch_all, fetch_one, fetch_value
from tests.graphql.mutations import PLACE_ORDER, UPDATE_USER
from tests.helpers import gid
from tests.redis_server import find_redis

ERASE_USER = """mutation($input: EraseUserInput!) { eraseUser(input: $input) {
  user { id email name role } errors { field code message } } }"""
ERASE_MY_DATA = """mutation($input: EraseMyDataInput!) { eraseMyData(input: $input) {
  user { id email name } errors { field code message } } }"""
EXPORT_MY_DATA = "mutation { exportMyData { url expiresAt errors { field code message } } }"
EXPORT_USER_DATA = """mutation($input: ExportUserDataInput!) { exportUserData(input: $input) {
  url expiresAt errors { field code message } } }"""


@dataclass
class Person:
    id: uuid.UUID
    email: str
    name: str
    old_name: str  # the name they had before they changed it
    token: str
    subject: str  # their JWT identity's subject


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with find_redis() as url:
        yield url


@pytest.fixture
async def papi(wapi: Api, redis_url: str) -> AsyncIterator[Api]:
    """An admin's client on a database of the test's own (SMALL), caching in Redis."""
    async with running_app(wapi.url, redis_url=redis_url) as api:
        yield api


async def a_product(api: Api) -> str:
    data = await api.data(
        "{ products(first: 1, filter: { inStock: true }) { edges { node { id } } } }"
    )
    product_id: str = data["products"]["edges"][0]["node"]["id"]
    return product_id


async def with_history(api: Api, email: str, *, tag: str) -> Person:
    """The user with `email` renamed (so an old name sits in the trail), with an API
    token, a JWT identity binding, and an order placed with an idempotency key."""
    user_id, version = await fetch_one(
        api.url, "SELECT id, version FROM users WHERE email = :e", e=email
    )
    old_name, name = f"Yorick Oldname-{tag}", f"Zelda Quixote-{tag}"
    for given in (old_name, name):
        updated = await api.data(
            UPDATE_USER,
            {"input": {"id": gid("User", user_id), "expectedVersion": version, "name": given}},
        )
        assert updated["updateUser"]["errors"] == []
        version = updated["updateUser"]["user"]["version"]
    token = await token_for(api.url, email)
    customer = api.as_(token)
    placed = await customer.data(
        PLACE_ORDER,
        {
            "input": {
                "idempotencyKey": f"order-of-{email}",
                "items": [{"productId": await a_product(api), "quantity": 2}],
            }
        },
    )
    assert placed["placeOrder"]["errors"] == [], placed
    subject = f"sub-{tag}-{uuid.uuid4().hex[:6]}"
    engine = create_async_engine(api.url)
    try:
        async with transaction(engine) as conn:
            identity = Identity(issuer="https://idp.test", subject=subject)
            bound = await bind_identity(conn, identity, email=email)
            assert isinstance(bound, BoundUser), bound
    finally:
        await engine.dispose()
    return Person(user_id, email, name, old_name, token, subject)


async def relayed(url: str) -> None:
    """Wait until the relay has moved every outbox row into the event log."""
    for _ in range(200):
        if await fetch_value(url, "SELECT count(*) FROM outbox") == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox was not relayed")


async def pg_dump(url: str) -> str:
    """The whole database as pg_dump writes it in plain SQL (every table, every row)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            major = await pg.server_major(conn)
    finally:
        await engine.dispose()
    tool = find_tool("pg_dump", min_major=major)
    process = await asyncio.create_subprocess_exec(
        str(tool.path),
        "--format=plain",
        "--no-owner",
        "-d",
        pg.database_name(url),
        env=pg.libpq_env(url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def redis_contents(redis_url: str, namespace: str) -> list[bytes]:
    """Every key under the namespace, and every string value, as bytes."""
    client = redis.from_url(redis_url)
    try:
        found: list[bytes] = []
        async for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            found.append(key)
            if await client.type(key) == b"string":
                value = await client.get(key)
                if value is not None:
                    found.append(value if isinstance(value, bytes) else value.encode())
        return found
    finally:
        await client.aclose()


def app_state(api: Api) -> Any:
    return api.client._transport.app.state  # type: ignore[attr-defined]


async def order_sums(url: str, user_id: uuid.UUID) -> list[tuple[Any, Any, Any]]:
    """(order id, total, sum of its items) for each of the user's orders."""
    rows = await fetch_all(
        url,
        "SELECT o.id, o.total, sum(i.quantity * i.unit_price) FROM orders o "
        "JOIN order_items i ON i.order_id = o.id WHERE o.user_id = :u GROUP BY o.id ORDER BY o.id",
        u=user_id,
    )
    return [tuple(row) for row in rows]
