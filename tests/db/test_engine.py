"""The engine's errors, as clients see them."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from app.db.engine import connect, create_engine
from app.errors import ServiceUnavailable, StatementTimeout, TryAgain
from app.settings import Settings


async def test_statement_timeout_is_statement_timeout(seeded_url: str) -> None:
    engine = create_engine(Settings(db_statement_timeout_ms=50), seeded_url)
    try:
        with pytest.raises(StatementTimeout, match="statement timeout") as raised:
            async with connect(engine) as conn:
                await conn.execute(text("SELECT pg_sleep(2)"))
        assert raised.value.code == "STATEMENT_TIMEOUT"
    finally:
        await engine.dispose()


async def test_exhausted_pool_is_service_unavailable(seeded_url: str) -> None:
    settings = Settings(db_pool_size=1, db_max_overflow=0, db_connect_timeout_s=0.2)
    engine = create_engine(settings, seeded_url)
    try:
        async with connect(engine) as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(ServiceUnavailable, match="busy"):
                async with connect(engine) as conn:
                    await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def test_amounts_travel_as_text_and_arrive_as_exact_decimals(seeded_url: str) -> None:
    engine = create_engine(Settings(), seeded_url)
    try:
        async with connect(engine) as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            value = await raw.fetchval("SELECT 12345678901.10::numeric(14, 2)")
            assert value == Decimal("12345678901.10")
            assert str(value) == "12345678901.10"  # the scale is kept
            # The text codec is in place: a numeric parameter may be given as text, which
            # asyncpg's own binary codec refuses.
            assert await raw.fetchval("SELECT $1::numeric * 2", "0.15") == Decimal("0.30")
    finally:
        await engine.dispose()


async def test_connections_go_to_waiters_first_come_first_served(seeded_url: str) -> None:
    """A request that arrives while others wait for a connection queues behind them; it
    does not take the connection just handed back (that starved some requests for
    seconds under load)."""
    engine = create_engine(Settings(db_pool_size=1, db_max_overflow=0), seeded_url)
    order: list[str] = []

    async def use(name: str) -> None:
        async with connect(engine) as conn:
            order.append(name)
            await conn.execute(text("SELECT 1"))

    newcomers: list[asyncio.Task[None]] = []

    def arrive(*_: object) -> None:
        # Newcomers arrive just as the connection is handed back.
        if not newcomers:
            newcomers.extend(asyncio.create_task(use(f"newcomer {i}")) for i in range(3))

    try:
        async with connect(engine) as held:
            await held.execute(text("SELECT 1"))
            waiter = asyncio.create_task(use("waiter"))
            await asyncio.sleep(0.05)  # the waiter is queued for the only connection
            event.listen(engine.sync_engine.pool, "checkin", arrive)
        await asyncio.gather(waiter)
        await asyncio.gather(*newcomers)
        assert order[0] == "waiter", order
    finally:
        await engine.dispose()


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
async def test_deadlock_and_serialization_failure_are_try_again(
    seeded_url: str, sqlstate: str
) -> None:
    engine = create_engine(Settings(), seeded_url)
    try:
        with pytest.raises(TryAgain, match="send it again") as raised:
            async with connect(engine) as conn:
                await conn.execute(
                    text(f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{sqlstate}'; END $$")
                )
        assert raised.value.code == "TRY_AGAIN"
        # Anything else from the database stays what it was (a bug, INTERNAL to clients).
        with pytest.raises(DBAPIError):
            async with connect(engine) as conn:
                await conn.execute(text("SELECT 1 / 0"))
    finally:
        await engine.dispose()
