"""SLOW_QUERY_MS: a real slow statement is logged with its operation and the plan of
the same text and parameters (SELECTs only, rate-limited); DB_STATEMENT_TIMEOUT_MS ends a
runaway statement with STATEMENT_TIMEOUT."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.engine import connect, create_engine
from app.observability.scope import CURRENT, OperationScope
from app.observability.slow_queries import SlowQueries, explainable
from app.observability.statements import instrument
from app.settings import Settings
from tests.conftest import running_app

PRODUCTS = "query Catalogue { products(first: 2) { edges { node { name } } } }"


@asynccontextmanager
async def locked_products(url: str, seconds: float) -> AsyncIterator[None]:
    """Another session holds products exclusively for `seconds` once the block starts:
    whatever reads them meanwhile waits (a real slow statement, not a mock)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("BEGIN"))
            await conn.execute(text("LOCK TABLE products IN ACCESS EXCLUSIVE MODE"))

            async def release() -> None:
                await asyncio.sleep(seconds)
                await conn.execute(text("COMMIT"))

            task = asyncio.create_task(release())
            yield
            await task
    finally:
        await engine.dispose()


async def slow_records(caplog: pytest.LogCaptureFixture, count: int) -> list[logging.LogRecord]:
    for _ in range(100):
        records = [r for r in caplog.records if r.name == "ordergraph.slow_query"]
        if len(records) >= count:
            return records
        await asyncio.sleep(0.05)
    raise AssertionError(caplog.text)


async def test_a_slow_select_of_an_operation_is_logged_with_its_plan(
    seeded_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ordergraph.slow_query")
    async with running_app(seeded_url, slow_query_ms=200) as api:
        await api.data("{ viewer { id } }")  # the token is verified and cached
        async with locked_products(seeded_url, 0.5):
            data = await api.data(PRODUCTS)
        assert len(data["products"]["edges"]) == 2
        records = await slow_records(caplog, 1)
    record = records[0]
    assert record.operation == "Catalogue"  # type: ignore[attr-defined]
    assert record.slow_ms >= 200  # type: ignore[attr-defined]
    assert "products" in record.statement  # type: ignore[attr-defined]
    plan = record.plan  # type: ignore[attr-defined]
    assert isinstance(plan, list), plan
    assert "Plan" in plan[0], plan
    assert len(records) == 1  # the quick statements were not logged


async def test_plans_are_rate_limited_and_writes_are_never_explained(
    seeded_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ordergraph.slow_query")
    engine = create_engine(Settings(), seeded_url)
    slow = SlowQueries(engine, threshold_ms=100, plans_per_minute=1)
    instrument(engine, slow)
    token = CURRENT.set(OperationScope(name="Batch"))
    try:
        async with connect(engine) as conn:
            for limit in (1, 2):
                await conn.execute(
                    text("SELECT pg_sleep(0.15), name FROM products LIMIT :n"), {"n": limit}
                )
            await conn.execute(text("CREATE TEMP TABLE slow_probe (x int)"))
            await conn.execute(text("INSERT INTO slow_probe SELECT 1 FROM pg_sleep(0.15)"))
        records = await slow_records(caplog, 3)
    finally:
        CURRENT.reset(token)
        await slow.close()
        await engine.dispose()
    planned = [r for r in records if r.plan is not None]  # type: ignore[attr-defined]
    assert len(planned) == 1  # one plan a minute
    # The plan is of the same text and parameters: a LIMIT of the first statement's 1.
    top = planned[0].plan[0]["Plan"]  # type: ignore[attr-defined]
    assert (top["Node Type"], top["Plan Rows"]) == ("Limit", 1)
    write = next(r for r in records if "INSERT" in r.statement)  # type: ignore[attr-defined]
    assert write.plan is None  # type: ignore[attr-defined]
    assert all(r.operation == "Batch" for r in records)  # type: ignore[attr-defined]
    # No parameter value is logged, only the statement's text.
    assert all("$1" in r.statement or "INSERT" in r.statement for r in records)  # type: ignore[attr-defined]


def test_only_plain_reads_are_explainable() -> None:
    assert explainable("SELECT * FROM products WHERE id = $1")
    assert explainable("WITH x AS (SELECT 1) SELECT * FROM x")
    assert not explainable("SELECT * FROM products FOR UPDATE")
    assert not explainable("WITH d AS (DELETE FROM orders RETURNING id) SELECT * FROM d")
    assert not explainable("UPDATE products SET stock = 1")
    assert not explainable("SELECT pg_advisory_lock(1)")


async def test_a_runaway_statement_ends_with_statement_timeout(seeded_url: str) -> None:
    async with running_app(seeded_url, db_statement_timeout_ms=300) as api:
        await api.data("{ viewer { id } }")
        async with locked_products(seeded_url, 3):
            error = await api.error(PRODUCTS)
    assert error["extensions"]["code"] == "STATEMENT_TIMEOUT"
    assert "DB_STATEMENT_TIMEOUT_MS" in error["message"]
    assert "Traceback" not in str(error)
