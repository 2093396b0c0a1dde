"""The counting proxy against the real PostgreSQL: statements and rows as sent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bench.pgwire import CountingProxy, is_control


@pytest.fixture
async def proxied(server_url: str) -> AsyncIterator[tuple[CountingProxy, asyncpg.Connection]]:
    url = make_url(server_url)
    proxy = CountingProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    conn = await asyncpg.connect(
        user=url.username,
        password=url.password,
        host="127.0.0.1",
        port=proxy.port,
        database=url.database or "postgres",
    )
    try:
        yield proxy, conn
    finally:
        await conn.close()
        await proxy.stop()


async def test_a_simple_query_counts_one_statement_and_its_rows(
    proxied: tuple[CountingProxy, asyncpg.Connection],
) -> None:
    proxy, conn = proxied
    proxy.counting = True
    await conn.execute("SELECT generate_series(1, 5)")
    counts = proxy.reset()
    assert (counts.statements, counts.control, counts.rows) == (1, 0, 5)


async def test_prepared_fetches_count_one_statement_each(
    proxied: tuple[CountingProxy, asyncpg.Connection],
) -> None:
    proxy, conn = proxied
    proxy.counting = True
    for n in (3, 4):
        rows = await conn.fetch("SELECT g FROM generate_series(1, $1::int) g", n)
        assert len(rows) == n
    counts = proxy.reset()
    assert (counts.statements, counts.rows) == (2, 7)
    assert counts.texts == ["SELECT g FROM generate_series(1, $1::int) g"] * 2


async def test_transaction_control_is_counted_apart(
    proxied: tuple[CountingProxy, asyncpg.Connection],
) -> None:
    proxy, conn = proxied
    proxy.counting = True
    async with conn.transaction():
        await conn.fetchval("SELECT 1")
    counts = proxy.reset()
    assert (counts.statements, counts.control, counts.rows) == (1, 2, 1)


async def test_nothing_is_counted_while_counting_is_off(
    proxied: tuple[CountingProxy, asyncpg.Connection],
) -> None:
    proxy, conn = proxied
    await conn.fetch("SELECT generate_series(1, 3)")
    assert proxy.reset().statements == 0


@pytest.mark.parametrize(
    ("sql", "control"),
    [
        ("BEGIN ISOLATION LEVEL READ COMMITTED", True),
        ("rollback", True),
        (";", True),
        ("", True),
        ("SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;", True),
        ("SELECT * FROM users", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", False),
        ("settle_up()", False),
    ],
)
def test_control_statements_are_recognised(sql: str, control: bool) -> None:
    assert is_control(sql) is control
