"""Hold many concurrent subscribers on one instance; measure delivery latency and memory.

    make bench-subscribers BENCH_ARGS="--subscribers 1000 --events 30"

Starts `ordergraph serve` (one worker) on the database (DATABASE_URL, else embedded) and
REDIS_URL if set, opens N graphql-transport-ws connections each subscribed to
productEvents, then changes a product E times. Latency is from the change's
`occurredAt` (stamped inside the writing transaction) to its arrival at each
subscriber; memory is the server's RSS growth per subscriber. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import statistics
import subprocess
import time
from datetime import UTC, datetime

import httpx
import psutil

from bench.setup import CLI, prepare
from tests.redis_server import free_port
from tests.wsclient import Session, connect

SUBSCRIPTION = "subscription { productEvents { node { stock } occurredAt } }"
UPDATE = """mutation($input: UpdateProductInput!) { updateProduct(input: $input) {
  product { version } errors { code } } }"""


def main() -> None:
    args = _parser().parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    bench = prepare(args.database_url, "--users", "100", "--products", "50")
    env, token, cli = bench.env, bench.token, CLI
    port = free_port()
    env.update(PORT=str(port), LOG_LEVEL="warning", WS_MAX_SUBSCRIPTIONS="5")
    server = subprocess.Popen([*cli, "serve"], env=env)
    try:
        asyncio.run(_run(args, port, token, server.pid))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


async def _run(args: argparse.Namespace, port: int, token: str, pid: int) -> None:
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as probe:
        for _ in range(300):
            try:
                if (await probe.get(f"{base}/readyz", timeout=2)).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    process = psutil.Process(pid)
    rss_before = process.memory_info().rss
    latencies: list[float] = []
    ready = asyncio.Event()
    connected = 0
    stop = asyncio.Event()

    async def subscriber() -> None:
        nonlocal connected
        async with connect(f"ws://127.0.0.1:{port}/graphql") as session:
            op = await session.subscribe(SUBSCRIPTION)
            connected += 1
            if connected == args.subscribers:
                ready.set()
            await _collect(session, op, latencies, stop)

    tasks = [asyncio.create_task(subscriber()) for _ in range(args.subscribers)]
    await asyncio.wait_for(ready.wait(), 300)
    await asyncio.sleep(1)
    rss_after = process.memory_info().rss
    headers = {"authorization": f"Bearer {token}"}
    first = "{ products(first: 1) { edges { node { id version } } } }"
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        found = (await client.post("/graphql", json={"query": first})).json()
        product = found["data"]["products"]["edges"][0]["node"]
        for index in range(args.events):
            await client.post(
                "/graphql",
                json={
                    "query": UPDATE,
                    "variables": {
                        "input": {
                            "id": product["id"],
                            "expectedVersion": product["version"] + index,
                            "stock": index,
                        }
                    },
                },
            )
            await asyncio.sleep(args.interval)
    expected = args.subscribers * args.events
    deadline = time.monotonic() + 30
    while len(latencies) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()
    print(
        f"{args.subscribers} subscribers, {args.events} events: "
        f"{len(latencies)}/{expected} delivered"
    )
    print(
        f"commit-to-delivery latency: p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms, max {latencies[-1]:.1f} ms"
    )
    print(
        f"server RSS {rss_before / 2**20:.0f} MiB -> {rss_after / 2**20:.0f} MiB with subscribers: "
        f"{(rss_after - rss_before) / args.subscribers / 1024:.1f} KiB per subscriber"
    )


async def _collect(session: Session, op: str, latencies: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        message = await session.receive(wait=3600)
        now = datetime.now(UTC)
        event = message["payload"]["data"]["productEvents"]
        occurred = datetime.fromisoformat(event["occurredAt"])
        latencies.append((now - occurred).total_seconds() * 1000)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: DATABASE_URL, else embedded")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between changes")
    return parser


if __name__ == "__main__":
    main()
