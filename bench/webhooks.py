"""Webhook delivery: 10,000 events to 10 local endpoints, one of them slow.

    make bench-webhooks BENCH_ARGS="--events 10000 --endpoints 10 --slow-ms 50"

Creates the database ordergraph_bench_webhooks afresh on the server of DATABASE_URL
(default 127.0.0.1:5432), migrates it and seeds one product per endpoint. Starts one
ordergraph server (WEBHOOK_ALLOW_PRIVATE=true) and `--endpoints` receivers on loopback
(a minimal HTTP/1.1 server each; the last one waits `--slow-ms` before answering), and
registers one webhook per receiver, each filtered to its own product. Then commits
`--events` product updates, one per product per transaction, through the same service
call a mutation makes (outbox -> relay -> event log), as fast as it can. Prints
deliveries/s and commit-to-delivery p50/p99 (from the event's occurredAt to its arrival),
for the fast endpoints and the slow one apart. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.services.products import emit_product_changes
from bench.database import server_url
from bench.servers import Peer, running
from bench.setup import CLI, admin_token
from tests import postgres

NAME = "ordergraph_bench_webhooks"
CREATE = """mutation($url: String!, $filter: WebhookFilterInput) {
  createWebhook(url: $url, events: [PRODUCT_UPDATED], filter: $filter) {
    webhook { id } errors { code message } } }"""
PRODUCTS = "{ products(first: 100) { edges { node { id sku } } } }"


@dataclass
class Endpoint:
    delay: float
    seen: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    last_at: float = 0.0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.decode().lower().split(": ", 1)
                    for line in head.split(b"\r\n")[1:]
                    if b": " in line
                )
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.time()
                if self.delay:
                    await asyncio.sleep(self.delay)
                message = headers.get("webhook-id", "")
                if message not in self.seen:  # at least once: count each message once
                    self.seen.add(message)
                    occurred = orjson.loads(body)["data"]["occurredAt"]
                    at = datetime.fromisoformat(occurred).timestamp()
                    self.latencies.append(arrived - at)
                    self.last_at = time.monotonic()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def prepare(server: str, products: int) -> str:
    url = postgres.with_database(server, NAME)
    conn = await postgres.admin_connection(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{NAME}"')
    finally:
        await conn.close()
    env = {**os.environ, "DATABASE_URL": url}
    seed = ["seed", "--users", "2", "--products", str(products)]
    for command in (["migrate", "up"], seed):
        await asyncio.to_thread(
            subprocess.run, [*CLI, *command], env=env, check=True, capture_output=True
        )
    return url


async def graphql(client: httpx.AsyncClient, endpoint: str, query: str, **variables: object):  # type: ignore[no-untyped-def]
    response = await client.post(endpoint, json={"query": query, "variables": variables})
    body = response.json()
    if "errors" in body:
        raise SystemExit(f"GraphQL error: {body['errors']}")
    return body["data"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def main(args: argparse.Namespace) -> None:
    url = await prepare(server_url(args.database_url), args.endpoints)
    token = await asyncio.to_thread(admin_token, {**os.environ, "DATABASE_URL": url})
    endpoints = [Endpoint(0.0) for _ in range(args.endpoints - 1)]
    endpoints.append(Endpoint(args.slow_ms / 1000))
    servers = []
    for point in endpoints:
        server = await asyncio.start_server(point.handle, "127.0.0.1", 0)
        point.port = server.sockets[0].getsockname()[1]
        servers.append(server)
    peer = Peer(
        "ordergraph webhooks",
        "ordergraph",
        {"WEB_CONCURRENCY": "1", "WEBHOOK_ALLOW_PRIVATE": "true"},
    )
    engine = create_async_engine(url)
    try:
        async with (
            running(peer, url) as ordergraph,
            httpx.AsyncClient(timeout=30, headers={"authorization": f"Bearer {token}"}) as client,
        ):
            edges = (await graphql(client, ordergraph.endpoint, PRODUCTS))["products"]["edges"]
            by_sku = {e["node"]["sku"]: e["node"]["id"] for e in edges}
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT id, sku FROM products ORDER BY sku"))).all()
            product_ids = [row.id for row in rows][: args.endpoints]
            skus = [row.sku for row in rows][: args.endpoints]
            for point, sku in zip(endpoints, skus, strict=True):
                data = await graphql(
                    client,
                    ordergraph.endpoint,
                    CREATE,
                    url=f"http://127.0.0.1:{point.port}/hook",
                    filter={"entityIds": [by_sku[sku]]},
                )
                if data["createWebhook"]["errors"]:
                    raise SystemExit(str(data["createWebhook"]["errors"]))
            rounds = args.events // args.endpoints
            started = time.monotonic()
            for n in range(rounds):
                async with engine.begin() as conn:
                    updated = await conn.execute(
                        text(
                            "UPDATE products SET stock = :n, version = version + 1, "
                            "updated_at = now() WHERE id = ANY(:ids) RETURNING *"
                        ),
                        {"n": n, "ids": product_ids},
                    )
                    found = [row._mapping for row in updated]
                    await emit_product_changes(conn, [(row, ["stock"], 1) for row in found])
            committed = time.monotonic() - started
            deadline = time.monotonic() + args.timeout
            while sum(len(p.seen) for p in endpoints) < rounds * args.endpoints:
                if time.monotonic() > deadline:
                    print("timed out waiting for deliveries")
                    break
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
        for server in servers:
            server.close()
    fast, slow = endpoints[:-1], endpoints[-1]
    fast_latencies = [x for p in fast for x in p.latencies]
    fast_done = max(p.last_at for p in fast) - started
    slow_done = slow.last_at - started
    total = sum(len(p.seen) for p in endpoints)
    print(f"{total} deliveries of {rounds * args.endpoints} events to {args.endpoints} endpoints")
    print(f"  committed in {committed:.1f} s ({rounds * args.endpoints / committed:.0f} events/s)")
    print(
        f"  all delivered after {max(fast_done, slow_done):.1f} s: "
        f"{total / max(fast_done, slow_done):.0f} deliveries/s"
    )
    print(
        f"  {len(fast)} fast endpoints: done after {fast_done:.1f} s, "
        f"{len(fast_latencies) / fast_done:.0f} deliveries/s, commit-to-delivery "
        f"p50 {pct(fast_latencies, 0.5):.0f} ms, p99 {pct(fast_latencies, 0.99):.0f} ms"
    )
    print(
        f"  slow endpoint ({args.slow_ms:.0f} ms an answer): done after {slow_done:.1f} s, "
        f"{len(slow.latencies) / slow_done:.0f} deliveries/s, commit-to-delivery "
        f"p50 {pct(slow.latencies, 0.5):.0f} ms, p99 {pct(slow.latencies, 0.99):.0f} ms"
    )
    if fast_latencies:
        print(f"  fast mean {statistics.mean(fast_latencies) * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--slow-ms", type=float, default=50)
    parser.add_argument("--timeout", type=float, default=600)
    asyncio.run(main(parser.parse_args()))
