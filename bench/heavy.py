"""Benchmark the Heavy query against a real server process.

    make bench BENCH_ARGS="--users 10000 --first 50 --orders 10"

Seeds the database if it is empty (deterministic data, see `ordergraph seed`), starts
`ordergraph serve` on a free port, then measures a lone request (latency) and a
closed-loop load (throughput) with `wrk` when it is installed, else with httpx.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import socket
import statistics
import subprocess
import time
from pathlib import Path

import httpx

from bench import wrk
from bench.setup import CLI, prepare

HEAVY = (Path(__file__).parent / "heavy.graphql").read_text()


def main() -> None:
    args = _parser().parse_args()
    bench = prepare(
        args.database_url,
        "--users",
        str(args.users),
        "--orders-per-user",
        str(args.orders_per_user),
        "--items-per-order",
        "3",
        "--products",
        str(args.products),
    )
    env, token, cli = bench.env, bench.token, CLI
    headers = {"authorization": f"Bearer {token}"}
    port = _free_port()
    env.update(PORT=str(port), LOG_LEVEL="warning", WEB_CONCURRENCY=str(args.workers))
    server = subprocess.Popen([*cli, "serve"], env=env)
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz")
        body: dict[str, object] = {
            "query": HEAVY,
            "variables": {"first": args.first, "orders": args.orders},
        }
        print(f"Heavy: first={args.first} orders={args.orders}, workers={args.workers}")
        _lone(url, body, headers, args.repeat)
        if shutil.which("wrk"):
            load = wrk.run(url, body, headers, connections=args.connections, seconds=args.duration)
            print(f"wrk -c{args.connections} -d{args.duration}s:")
            print(load.output)
        else:
            asyncio.run(_load(url, body, headers, args.connections, args.duration))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def _lone(url: str, body: dict[str, object], headers: dict[str, str], repeat: int) -> None:
    with httpx.Client(timeout=60, headers=headers) as client:
        response = client.post(url, json=body)
        response.raise_for_status()
        assert "errors" not in response.json(), response.text[:500]
        size = len(response.content)
        timings = []
        for _ in range(repeat):
            start = time.perf_counter()
            client.post(url, json=body).raise_for_status()
            timings.append((time.perf_counter() - start) * 1000)
    print(
        f"lone request: median {statistics.median(timings):.1f} ms, "
        f"min {min(timings):.1f} ms over {repeat}; response {size / 1024:.0f} KiB"
    )


async def _load(
    url: str, body: dict[str, object], headers: dict[str, str], connections: int, duration: int
) -> None:
    timings: list[float] = []
    deadline = time.perf_counter() + duration

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            (await client.post(url, json=body)).raise_for_status()
            timings.append((time.perf_counter() - start) * 1000)

    async with httpx.AsyncClient(timeout=60, headers=headers) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    timings.sort()
    print(
        f"httpx load, {connections} connections, {elapsed:.0f} s: "
        f"{len(timings) / elapsed:.1f} req/s, "
        f"p50 {timings[len(timings) // 2]:.0f} ms, p99 {timings[int(len(timings) * 0.99)]:.0f} ms"
    )


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("server did not become ready")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: DATABASE_URL, else embedded")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--orders-per-user", type=int, default=10)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--first", type=int, default=50)
    parser.add_argument("--orders", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=int, default=15, help="seconds of load")
    parser.add_argument("--repeat", type=int, default=20, help="lone requests to time")
    return parser


if __name__ == "__main__":
    main()
