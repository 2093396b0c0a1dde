"""Export 1,000,000 orders through one server process; compare with a raw COPY.

    make bench-export BENCH_ARGS="--rows 1000000"

Makes (once) the database `ordergraph_bench_export` on the server of --database-url or
DATABASE_URL (default: local PostgreSQL), with the rows inserted by generate_series,
starts `ordergraph serve` (one worker) on it, downloads /export/orders.csv and
/export/orders.ndjson with httpx as an admin, and samples the server's RSS every 20 ms
meanwhile. Then the same rows, in the same order, through `COPY (SELECT ...) TO STDOUT`
on one asyncpg connection. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import threading
import time

import asyncpg
import httpx
import psutil

from bench.database import dsn, server_url
from bench.setup import CLI, admin_token
from tests import postgres
from tests.redis_server import free_port

NAME = "ordergraph_bench_export"
# The export's rows in the export's order (orders, newest first), as COPY writes them.
QUERY = (
    "SELECT id, user_id, status, total, created_at, updated_at, version FROM orders "
    "ORDER BY created_at DESC, id DESC"
)


async def create_database(server: str) -> str:
    conn = await postgres.admin_connection(server)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", NAME):
            await conn.execute(f'CREATE DATABASE "{NAME}"')
    finally:
        await conn.close()
    return postgres.with_database(server, NAME)


def prepare(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([*CLI, "migrate", "up"], env=env, check=True, capture_output=True)
    seeded = subprocess.run(
        [*CLI, "seed", "--users", "100", "--orders-per-user", "0", "--products", "10"],
        env=env,
        capture_output=True,
        text=True,
    )
    if seeded.returncode not in (0, 2):  # 2: seeded already
        raise SystemExit(seeded.stderr)


async def fill(url: str, rows: int) -> None:
    """At least `rows` orders, made by generate_series (the seed would take hours)."""
    conn = await asyncpg.connect(dsn(url))
    try:
        missing = rows - await conn.fetchval("SELECT count(*) FROM orders")
        if missing > 0:
            print(f"inserting {missing} orders ...", flush=True)
            await conn.execute(
                "INSERT INTO orders (user_id, status, total, created_at, updated_at) "
                "SELECT u.ids[1 + i % array_length(u.ids, 1)], "
                "(enum_range(NULL::order_status))[1 + i % 5], (i % 100000) / 100.0, "
                "now() - i * interval '1 second', now() "
                "FROM generate_series(1, $1) AS i, (SELECT array_agg(id) AS ids FROM users) u",
                missing,
            )
            await conn.execute("VACUUM ANALYZE orders")
    finally:
        await conn.close()


class PeakRss:
    """The peak RSS of a process, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)


async def download(base: str, token: str, path: str) -> tuple[int, int, float]:
    """(lines, bytes, seconds) of one export."""
    lines = size = 0
    started = time.perf_counter()
    async with (
        httpx.AsyncClient(timeout=600) as client,
        client.stream("GET", base + path, headers={"authorization": f"Bearer {token}"}) as r,
    ):
        r.raise_for_status()
        async for chunk in r.aiter_raw():
            lines += chunk.count(b"\n")
            size += len(chunk)
    return lines, size, time.perf_counter() - started


async def raw_copy(url: str) -> tuple[int, int, float]:
    lines = size = 0

    async def sink(chunk: bytes) -> None:
        nonlocal lines, size
        lines += chunk.count(b"\n")
        size += len(chunk)

    conn = await asyncpg.connect(dsn(url))
    try:
        started = time.perf_counter()
        await conn.copy_from_query(QUERY, output=sink, format="csv")
        return lines, size, time.perf_counter() - started
    finally:
        await conn.close()


async def measure(url: str, base: str, token: str, pid: int) -> None:
    async with httpx.AsyncClient() as probe:
        for _ in range(300):
            try:
                if (await probe.get(f"{base}/readyz", timeout=2)).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    # Warm up (imports, prepared statements, the first batches) before measuring.
    await download(base, token, '/export/orders.csv?filter={"total":{"max":"0.5"}}')
    copied = await raw_copy(url)
    print(f"{'':26} {'rows':>9} {'MiB':>7} {'seconds':>8} {'rows/s':>10} {'peak RSS +':>10}")
    _line("raw COPY (csv)", copied, None)
    for path in ("/export/orders.csv", "/export/orders.ndjson"):
        with PeakRss(pid) as rss:
            before = rss.peak
            result = await download(base, token, path)
        header = 1 if path.endswith(".csv") else 0
        _line(f"GET {path}", (result[0] - header, *result[1:]), rss.peak - before)


def _line(name: str, result: tuple[int, int, float], rss: int | None) -> None:
    rows, size, seconds = result
    grown = f"{rss / 2**20:.1f} MiB" if rss is not None else "-"
    print(
        f"{name:26} {rows:>9} {size / 2**20:>7.1f} {seconds:>8.2f} {rows / seconds:>10.0f} "
        f"{grown:>10}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="server to use (default: DATABASE_URL, local)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    url = asyncio.run(create_database(server_url(args.database_url)))
    prepare(url)
    asyncio.run(fill(url, args.rows))
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "warning", "WEB_CONCURRENCY": "1"}
    env.pop("REDIS_URL", None)
    token = admin_token(env)
    port = free_port()
    env["PORT"] = str(port)
    server = subprocess.Popen([*CLI, "serve"], env=env)
    try:
        asyncio.run(measure(url, f"http://127.0.0.1:{port}", token, server.pid))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
