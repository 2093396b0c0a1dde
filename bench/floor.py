"""The database floor: each query's answer from one hand-written statement via asyncpg.

No GraphQL server can beat it: it is the same rows, already shaped as JSON by PostgreSQL,
sent straight from the bench process with the same concurrency and pool size as the
servers get.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time

import asyncpg

from bench.queries import Floor
from bench.wrk import WrkRun


async def answer(dsn: str, floor: Floor, index: int = 0) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        raw: str = await conn.fetchval(floor.sql, *floor.args[index])
        return raw
    finally:
        await conn.close()


async def sequential(dsn: str, floor: Floor, requests: int) -> None:
    """One connection, `requests` statements in turn (for the wire counter)."""
    conn = await asyncpg.connect(dsn)
    try:
        for n in range(requests):
            await conn.fetchval(floor.sql, *floor.args[n % len(floor.args)])
    finally:
        await conn.close()


async def load(
    dsn: str, floor: Floor, *, connections: int, seconds: float, pool_size: int
) -> WrkRun:
    """Closed loop: `connections` workers over a pool of `pool_size` for `seconds`."""
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
    timings: list[float] = []
    deadline = time.perf_counter() + seconds
    rng = random.Random(2)

    async def worker() -> None:
        while (start := time.perf_counter()) < deadline:
            await pool.fetchval(floor.sql, *rng.choice(floor.args))
            timings.append((time.perf_counter() - start) * 1000)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    cuts = statistics.quantiles(timings, n=100, method="inclusive") if len(timings) > 1 else []
    return WrkRun(
        rps=len(timings) / elapsed,
        p50_ms=cuts[49] if cuts else float("nan"),
        p99_ms=cuts[98] if cuts else float("nan"),
        requests=len(timings),
        failed=0,
        output="",
    )
