"""Databases of the tests' own for backups: a seeded source, bare targets, and helpers
that read every table whole."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.backup import pg
from app.backup.crypto import parse_key
from app.db.seed import ADMIN_EMAIL, seed
from tests import postgres
from tests.conftest import SMALL, token_for

KEY = parse_key("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
OTHER_KEY = parse_key("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=")


@contextlib.asynccontextmanager
async def database(server_url: str, *, template: str | None = None) -> AsyncIterator[str]:
    name = postgres.unique_name("backup")
    url = await postgres.create_database(server_url, name, template=template)
    try:
        yield url
    finally:
        await postgres.drop_database(server_url, name)


async def seed_with_history(url: str) -> None:
    """SMALL, plus a token (an api_tokens row and its audit event)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
    finally:
        await engine.dispose()
    await token_for(url, ADMIN_EMAIL)


async def contents(url: str) -> dict[str, tuple[int, str]]:
    """Every user table's row count and a digest of all its rows."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found = {}
            for table in await pg.user_tables(conn):
                quoted = pg.quote_table(table)
                row = (
                    await conn.execute(
                        text(
                            f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' "
                            f"ORDER BY t::text), '')) FROM {quoted} t"
                        )
                    )
                ).one()
                found[table] = (row[0], row[1])
            return found
    finally:
        await engine.dispose()


async def execute(url: str, sql: str, **params: Any) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql), params)
    finally:
        await engine.dispose()


@pytest.fixture
async def source_url(server_url: str, template_db: str) -> AsyncIterator[str]:
    """A migrated database with SMALL and some history in it."""
    async with database(server_url, template=template_db) as url:
        await seed_with_history(url)
        yield url


@pytest.fixture
async def bare_url(server_url: str) -> AsyncIterator[str]:
    """A new, empty database (CREATE DATABASE, nothing more)."""
    async with database(server_url) as url:
        yield url


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
