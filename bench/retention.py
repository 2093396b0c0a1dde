"""Purging a million audit events while the shop keeps writing: the longest write stall.

    make bench-retention BENCH_ARGS="--rows 1000000 --batch 5000"

Creates the database ordergraph_bench_retention afresh on the server of DATABASE_URL
(default 127.0.0.1:5432), migrates it, seeds a few products and inserts `--rows` audit
events a year and more old (generate_series). A writer then loops on small write
transactions, what a mutation does (update a product, append its audit event), first
alone, then while the retention runner purges the old events in batches. Prints the
writer's latencies alone and during the purge (the longest is the stall), and the
purge's rows/s. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time

import asyncpg

from app.db.engine import create_engine
from app.retention.classes import AUDIT
from app.retention.runner import run_retention
from app.settings import Settings
from bench.database import dsn, server_url
from bench.setup import CLI
from tests import postgres

NAME = "ordergraph_bench_retention"
FILL = """
INSERT INTO audit_events (occurred_at, actor_kind, action, entity_type, entity_id, changes)
SELECT now() - interval '400 days' - g * interval '1 second', 'system', 'product.updated',
       'Product', gen_random_uuid(), '{"stock": {"before": 1, "after": 2}}'
FROM generate_series(1, $1) AS g
"""
WRITE = """
WITH changed AS (UPDATE products SET stock = stock + 1, version = version + 1
                 WHERE id = $1 RETURNING id)
INSERT INTO audit_events (actor_kind, action, entity_type, entity_id, changes)
SELECT 'system', 'product.updated', 'Product', id, '{}' FROM changed
"""


async def prepare(server: str, rows: int) -> str:
    url = postgres.with_database(server, NAME)
    conn = await postgres.admin_connection(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{NAME}"')
    finally:
        await conn.close()
    env = {**os.environ, "DATABASE_URL": url}
    for command in (["migrate", "up"], ["seed", "--users", "10", "--products", "20"]):
        await asyncio.to_thread(
            subprocess.run, [*CLI, *command], env=env, check=True, capture_output=True
        )
    conn = await asyncpg.connect(dsn(url))
    try:
        started = time.perf_counter()
        await conn.execute(FILL, rows)
        await conn.execute("VACUUM ANALYZE audit_events")
        print(f"inserted {rows:,} old audit events in {time.perf_counter() - started:.1f} s")
    finally:
        await conn.close()
    return url


async def write_loop(url: str, stop: asyncio.Event) -> list[float]:
    """Latency of each small write transaction until `stop`."""
    conn = await asyncpg.connect(dsn(url))
    try:
        products = [row[0] for row in await conn.fetch("SELECT id FROM products")]
        latencies = []
        i = 0
        while not stop.is_set():
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute(WRITE, products[i % len(products)])
            latencies.append(time.perf_counter() - started)
            i += 1
            await asyncio.sleep(0.001)  # a steady trickle, not a saturating loop
        return latencies
    finally:
        await conn.close()


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000

    return (
        f"{len(ordered):,} writes, p50 {at(0.5):.1f} ms, p99 {at(0.99):.1f} ms, "
        f"longest {ordered[-1] * 1000:.1f} ms"
    )


async def main_async(args: argparse.Namespace) -> None:
    url = await prepare(server_url(args.database_url), args.rows)
    settings = Settings(database_url=url, audit_retention_days=365, retention_batch_size=args.batch)

    stop = asyncio.Event()
    alone = asyncio.create_task(write_loop(url, stop))
    await asyncio.sleep(args.baseline_seconds)
    stop.set()
    baseline = await alone

    engine = create_engine(settings, url)
    stop = asyncio.Event()
    writer = asyncio.create_task(write_loop(url, stop))
    await asyncio.sleep(0.5)  # the writer is going before the purge starts
    try:
        result = await run_retention(engine, settings, classes=(AUDIT,))
    finally:
        stop.set()
        during = await writer
        await engine.dispose()
    assert result is not None
    [purged] = result.results
    print(
        f"purge: {purged.rows:,} audit events in {result.seconds:.1f} s, batches of "
        f"{args.batch:,}: {purged.rows / result.seconds:,.0f} rows/s"
    )
    print(f"writer alone:       {summary(baseline)}")
    print(f"writer during purge: {summary(during)}")
    print(f"longest write stall during the purge: {max(during) * 1000:.1f} ms")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="the server to use; default: DATABASE_URL")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=Settings().retention_batch_size)
    parser.add_argument("--baseline-seconds", type=float, default=5)
    return parser


def main() -> None:
    asyncio.run(main_async(_parser().parse_args()))


if __name__ == "__main__":
    main()
