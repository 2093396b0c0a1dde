"""A small seeded database of the test's own, and a runner with short ages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db.engine import create_engine
from app.db.seed import seed
from app.retention.runner import RunResult, run_retention
from app.settings import Settings
from tests.conftest import SMALL


@pytest.fixture
async def small_url(empty_url: str) -> str:
    engine = create_async_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
    finally:
        await engine.dispose()
    return empty_url


@pytest.fixture
async def db(small_url: str) -> AsyncIterator[AsyncEngine]:
    """The app's own engine (statement timeout and all) on the test's database."""
    engine = create_engine(Settings(database_url=small_url), small_url)
    yield engine
    await engine.dispose()


def settings_for(url: str, **overrides: Any) -> Settings:
    return Settings(database_url=url, **overrides)


async def run(engine: AsyncEngine, url: str, **kwargs: Any) -> RunResult:
    """A run that must take the lock, with the settings' defaults unless overridden."""
    dry_run = kwargs.pop("dry_run", False)
    result = await run_retention(engine, settings_for(url, **kwargs), dry_run=dry_run)
    assert result is not None, "another runner held the lock"
    return result


def rows(result: RunResult) -> dict[str, int]:
    return {item.cls.name: item.rows for item in result.results}


async def execute(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)


OLD_AUDIT = """
INSERT INTO audit_events (occurred_at, actor_kind, action, entity_type, entity_id)
SELECT now() - make_interval(days => :days), 'system', 'test.old', 'Test', gen_random_uuid()
FROM generate_series(1, :n)
"""


async def execute_url(url: str, sql: str, **params: Any) -> None:
    engine = create_async_engine(url)
    try:
        await execute(engine, sql, **params)
    finally:
        await engine.dispose()
