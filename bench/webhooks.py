"""Webhooks: deliveries/s and commit-to-delivery latency, one endpoint slow.

    make bench-webhooks BENCH_ARGS="--events 10000 --endpoints 10 --slow-ms 50"

Creates the database ordergraph_bench_webhooks afresh on the server of DATABASE_URL
(default 127.0.0.1:5432), migrates and seeds it, starts one `ordergraph serve` process
(WEBHOOK_ALLOW_PRIVATE=true) and `--endpoints` receivers on loopback, each registered
for product.updated; the last answers after `--slow-ms`. `--events` product events are
then committed (100 per transaction) and the bench waits for the fast endpoints to have
every one. Prints deliveries/s over the fast endpoints, the commit-to-delivery p50/p99
(receipt time minus the event's occurredAt, first receipt of each webhook-id), and how
far the slow endpoint got meanwhile (it never holds the others back). Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime

import asyncpg
import httpx

from bench.database import dsn, server_url
from bench.setup import CLI
from tests import postgres
from tests.redis_server import free_port
from tests.webhooks.receiver import Receiver

NAME = "ordergraph_bench_webhooks"
CREATE = """mutation($url: String!) { createWebhook(url: $url, events: [PRODUCT_UPDATED]) {
  webhook { id } errors { code message } } }"""
EVENTS = """
INSERT INTO outbox (topic, type, entity_id, changed_fields, data)
SELECT 'product', 'UPDATED', p.id, '{stock}',
       jsonb_build_object('id', p.id, 'sku', p.sku, 'name', p.name,
                          'description', p.description, 'price', p.price::text,
                          'stock', n, 'created_at', p.created_at, 'updated_at', now(),
                          'version', p.version)
FROM generate_series(1, $1) AS n
JOIN LATERAL (SELECT * FROM products ORDER BY id OFFSET (n % 20) LIMIT 1) p ON true
"""


async def prepare(server: str) -> str:
    url = postgres.with_database(server, NAME)
    conn = await postgres.admin_connection(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{NAME}"')
    finally:
        await conn.close()
    env = {**os.environ, "DATABASE_URL": url}
    for command in (["migrate", "up"], ["seed", "--users", "5", "--products", "20"]):
        await asyncio.to_thread(
            subprocess.run, [*CLI, *command], env=env, check=True, capture_output=True
        )
    return url


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "WEBHOOK_POLL_SECONDS": "0.2",
        "EVENTS_POLL_SECONDS": "0.2",
        "RETENTION_EVERY_SECONDS": "0",
    }
    env.pop("REDIS_URL", None)
    process = subprocess.Popen([*CLI, "serve"], env=env, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start")


def first_receipts(receiver: Receiver) -> dict[str, float]:
    """Commit-to-delivery seconds of each message, at its first receipt."""
    found: dict[str, float] = {}
    for request in receiver.ok():
        if request.id not in found:
            occurred = datetime.fromisoformat(request.json["data"]["occurredAt"])
            found[request.id] = request.wall - occurred.timestamp()
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--slow-ms", type=float, default=50)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    url = await prepare(server_url(args.database_url))
    made = await asyncio.to_thread(
        subprocess.run,
        [*CLI, "token", "create", "--email", "admin@example.com"],
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        text=True,
    )
    token = made.stdout.strip()
    receivers = [Receiver().start() for _ in range(args.endpoints)]
    slow = receivers[-1]
    slow.delay = args.slow_ms / 1000
    port = free_port()
    server = serve(url, port)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {token}"}
        ) as client:
            for receiver in receivers:
                body = (
                    await client.post(
                        "/graphql", json={"query": CREATE, "variables": {"url": receiver.url}}
                    )
                ).json()
                assert body["data"]["createWebhook"]["errors"] == [], body
        conn = await asyncpg.connect(dsn(url))
        started = time.perf_counter()
        try:
            for _ in range(args.events // 100):
                await conn.execute(EVENTS, 100)
        finally:
            await conn.close()
        committed = time.perf_counter() - started
        fast = receivers[:-1]
        deadline = time.monotonic() + args.timeout
        # Counting ids (not parsing every body) keeps the bench's own CPU off the figures.
        while min(len(set(r.ids())) for r in fast) < args.events:
            if time.monotonic() > deadline:
                print("gave up waiting: not every event arrived in time", file=sys.stderr)
                break
            await asyncio.sleep(0.5)
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)
        for receiver in receivers:
            receiver.stop()
    latencies = sorted(v for r in fast for v in first_receipts(r).values())
    delivered = len(latencies)
    duplicates = sum(len(r.ok()) for r in fast) - delivered
    print(f"{args.events:,} events committed in {committed:.1f} s (100 per transaction)")
    print(
        f"{delivered:,} deliveries to {len(fast)} fast endpoints in {elapsed:.1f} s: "
        f"{delivered / elapsed:,.0f} deliveries/s ({duplicates} sent again)"
    )
    if latencies:
        p50 = statistics.quantiles(latencies, n=100)[49]
        p99 = statistics.quantiles(latencies, n=100)[98]
        print(f"commit-to-delivery p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms")
    print(
        f"slow endpoint ({args.slow_ms:g} ms per answer): {len(first_receipts(slow)):,} of "
        f"{args.events:,} by then"
    )


if __name__ == "__main__":
    asyncio.run(main())
