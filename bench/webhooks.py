"""Webhooks: deliveries/s and commit-to-delivery latency, one endpoint slow.

    make bench-webhooks BENCH_ARGS="--events 10000 --endpoints 10 --slow-ms 50"

Creates the database ordergraph_bench_webhooks afresh on the server of DATABASE_URL
(default 127.0.0.1:5432), migrates and seeds it, starts one `ordergraph serve` process
(WEBHOOK_ALLOW_PRIVATE=true) and `--endpoints` receivers on loopback, each registered
for product.updated; the last answers after `--slow-ms`. `--events` product events are
then committed at once (100 per transaction) and the bench waits for the fast endpoints
to have every one. Prints deliveries/s over the fast endpoints, the commit-to-delivery
p50/p99 (receipt time minus the event's occurredAt, first receipt of each webhook-id),
and how far the slow endpoint got meanwhile (it never holds the others back). A burst
measures throughput, and its latencies are mostly the backlog's; a second, steady phase
(`--steady-events` at `--rate` a second) gives the latency below capacity. Figures only.
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


def first_receipts(receiver: Receiver, skip: frozenset[str] = frozenset()) -> dict[str, float]:
    """Commit-to-delivery seconds of each message, at its first receipt (but `skip`)."""
    found: dict[str, float] = {}
    for request in receiver.ok():
        if request.id not in found and request.id not in skip:
            occurred = datetime.fromisoformat(request.json["data"]["occurredAt"])
            found[request.id] = request.wall - occurred.timestamp()
    return found


async def phase(
    url: str, receivers: list[Receiver], *, events: int, rate: float, patience: float, name: str
) -> None:
    """Commit `events` product events, all at once (100 per transaction) or at `rate` a
    second, wait for every fast endpoint to have them all, print the figures."""
    fast, slow = receivers[:-1], receivers[-1]
    before = [frozenset(r.ids()) for r in receivers]
    conn = await asyncpg.connect(dsn(url))
    started = time.perf_counter()
    try:
        if rate:
            per_tick = max(1, round(rate / 20))  # a small transaction every 50 ms or so
            for sent in range(0, events, per_tick):
                due = started + sent / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await conn.execute(EVENTS, min(per_tick, events - sent))
        else:
            for sent in range(0, events, 100):
                await conn.execute(EVENTS, min(100, events - sent))
    finally:
        await conn.close()
    committed = time.perf_counter() - started
    deadline = time.monotonic() + patience
    # Counting ids (not parsing every body) keeps the bench's own CPU off the figures.
    while min(len(set(r.ids()) - seen) for r, seen in zip(fast, before, strict=False)) < events:
        if time.monotonic() > deadline:
            print("gave up waiting: not every event arrived in time", file=sys.stderr)
            break
        await asyncio.sleep(0.25)
    elapsed = time.perf_counter() - started
    receipts = [first_receipts(r, seen) for r, seen in zip(fast, before, strict=False)]
    latencies = sorted(v for found in receipts for v in found.values())
    delivered = len(latencies)
    sent = sum(len(r.ok()) for r in fast) - sum(len(seen) for seen in before[:-1])
    how = f"at {rate:g}/s" if rate else "100 per transaction"
    print(f"== {name}: {events:,} events committed in {committed:.1f} s ({how})")
    print(
        f"{delivered:,} deliveries to {len(fast)} fast endpoints in {elapsed:.1f} s: "
        f"{delivered / elapsed:,.0f} deliveries/s ({sent - delivered} sent again)"
    )
    if latencies:
        p50 = statistics.quantiles(latencies, n=100)[49]
        p99 = statistics.quantiles(latencies, n=100)[98]
        print(f"commit-to-delivery p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms")
    print(
        f"slow endpoint: {len(set(slow.ids()) - before[-1]):,} messages received meanwhile",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--slow-ms", type=float, default=50)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument(
        "--steady-events",
        type=int,
        default=3_000,
        help="then this many more at --rate, for the latency below capacity (0: skip)",
    )
    parser.add_argument("--rate", type=float, default=50, help="events per second, steady")
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
    receivers[-1].delay = args.slow_ms / 1000
    print(f"{args.endpoints} endpoints, the last answering after {args.slow_ms:g} ms")
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
        await phase(url, receivers, events=args.events, rate=0, patience=args.timeout, name="burst")
        if args.steady_events:
            await phase(
                url,
                receivers,
                events=args.steady_events,
                rate=args.rate,
                patience=args.timeout,
                name="steady",
            )
    finally:
        server.terminate()
        server.wait(30)
        for receiver in receivers:
            receiver.stop()


if __name__ == "__main__":
    asyncio.run(main())
