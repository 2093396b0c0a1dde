"""Hold many concurrent subscribers on one worker; measure delivery latency and memory.

    make bench-subscribers                      # WS 1,000 and 10,000, SSE 1,000
    make bench-subscribers BENCH_ARGS="--runs ws:1000 --events 30"

Each run starts its own `ordergraph serve` (one worker) on the database (DATABASE_URL,
else embedded) and REDIS_URL if set, so no run inherits another's memory. Client
processes (bench/subscriber_clients.py, several, so no single client process is the
bottleneck) open the subscribers: graphql-transport-ws connections, or graphql-sse
streams in distinct connections mode, each subscribed to productEvents. Then a product
is changed E times. Latency is from the change's `occurredAt` (stamped inside the
writing transaction) to the moment a client read the frame; memory is the server's RSS
growth per subscriber once all are subscribed. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass

import httpx
import orjson
import psutil

from bench.setup import CLI, prepare
from tests.redis_server import free_port

UPDATE = """mutation($input: UpdateProductInput!) { updateProduct(input: $input) {
  product { version } errors { code } } }"""
FIRST = "{ products(first: 1) { edges { node { id version } } } }"


@dataclass(frozen=True)
class Run:
    transport: str  # "ws" or "sse"
    subscribers: int


@dataclass(frozen=True)
class Figures:
    run: Run
    delivered: int
    expected: int
    errors: int
    p50: float
    p99: float
    max: float
    rss_per_subscriber_kib: float
    rss_mib: tuple[float, float]


def main() -> None:
    args = _parser().parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    bench = prepare(args.database_url, "--users", "100", "--products", "50")
    results = []
    for run in args.runs:
        port = free_port()
        env = dict(bench.env)
        env.update(
            PORT=str(port),
            LOG_LEVEL="warning",
            # Every bench subscriber comes from 127.0.0.1, as one anonymous caller.
            SSE_MAX_STREAMS=str(max(run.subscribers, 20)),
        )
        server = subprocess.Popen([*CLI, "serve"], env=env)
        try:
            figures = asyncio.run(_measure(args, run, port, bench.token, server.pid))
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:  # still closing thousands of sockets
                server.kill()
                server.wait()
        _print(figures)
        results.append(figures)
    print()
    print("transport  subscribers  delivered          p50 ms   p99 ms   max ms  KiB/subscriber")
    for f in results:
        print(
            f"{f.run.transport:<10} {f.run.subscribers:>11,}  "
            f"{f'{f.delivered:,}/{f.expected:,}':<17} {f.p50:>7.1f}  {f.p99:>7.1f}  "
            f"{f.max:>7.1f}  {f.rss_per_subscriber_kib:>14.1f}"
        )


async def _measure(args: argparse.Namespace, run: Run, port: int, token: str, pid: int) -> Figures:
    base = f"http://127.0.0.1:{port}"
    # A saturated server (10,000 subscribers) answers slowly, but it answers.
    async with httpx.AsyncClient(base_url=base, timeout=120) as probe:
        await _until_ready(probe)
        process = psutil.Process(pid)
        rss_before = process.memory_info().rss
        shares = [run.subscribers // args.clients] * args.clients
        shares[0] += run.subscribers - sum(shares)
        clients = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.subscriber_clients",
                run.transport,
                str(port),
                str(share),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={
                    **os.environ,
                    "PYTHONPATH": os.getcwd(),
                    "BENCH_WS_COMPRESSION": args.ws_compression,
                },
                limit=2**30,  # the results are one long line
            )
            for share in shares
            if share
        ]
        try:
            for client in clients:
                assert client.stdout is not None
                ready = (await asyncio.wait_for(client.stdout.readline(), 600)).decode().split()
                if not ready or ready[0] != "ready":
                    raise SystemExit(f"a client process failed: {ready}")
            await _until_subscribed(probe, run.subscribers)
            await asyncio.sleep(1)
            rss_after = process.memory_info().rss
            spy = _profile(args.profile, run, pid)
            await _change_a_product(probe, token, args.events, args.interval)
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                await asyncio.to_thread(spy.wait, 30)
            outcomes = []
            for client in clients:
                assert client.stdin is not None
                client.stdin.write(f"stop {args.events} 60\n".encode())
                await client.stdin.drain()
            for client in clients:
                assert client.stdout is not None
                outcomes.append(orjson.loads(await client.stdout.readline()))
        finally:
            for client in clients:
                if client.returncode is None:
                    client.kill()
                await client.wait()
    latencies = sorted(value for outcome in outcomes for value in outcome["latencies"])
    if not latencies:
        raise SystemExit(f"nothing delivered ({run})")
    return Figures(
        run=run,
        delivered=len(latencies),
        expected=run.subscribers * args.events,
        errors=sum(outcome["errors"] for outcome in outcomes),
        p50=latencies[len(latencies) // 2],
        p99=latencies[max(int(len(latencies) * 0.99) - 1, 0)],
        max=latencies[-1],
        rss_per_subscriber_kib=(rss_after - rss_before) / run.subscribers / 1024,
        rss_mib=(rss_before / 2**20, rss_after / 2**20),
    )


async def _until_ready(probe: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await probe.get("/readyz", timeout=2)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not get ready")


async def _until_subscribed(probe: httpx.AsyncClient, count: int) -> None:
    """Until the broker holds every subscriber (a subscribe message has no answer)."""
    for _ in range(600):
        metrics = (await probe.get("/metrics")).text
        held = next(
            int(float(line.split()[1]))
            for line in metrics.splitlines()
            if line.startswith("ordergraph_subscribers ")
        )
        if held >= count:
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"only {held} of {count} subscribers joined the broker")


async def _change_a_product(
    client: httpx.AsyncClient, token: str, events: int, interval: float
) -> None:
    headers = {"authorization": f"Bearer {token}"}
    found = (await client.post("/graphql", json={"query": FIRST}, headers=headers)).json()
    product = found["data"]["products"]["edges"][0]["node"]
    for index in range(events):
        variables = {
            "input": {
                "id": product["id"],
                "expectedVersion": product["version"] + index,
                "stock": index,
            }
        }
        answer = await client.post(
            "/graphql", json={"query": UPDATE, "variables": variables}, headers=headers
        )
        if answer.json()["data"]["updateProduct"]["errors"]:
            raise SystemExit(f"the update failed: {answer.text}")
        await asyncio.sleep(interval)


def _profile(prefix: str | None, run: Run, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy on the server while the events go out (--profile PREFIX)."""
    if prefix is None:
        return None
    spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    out = f"{prefix}-{run.transport}-{run.subscribers}.txt"
    print(f"profiling the server into {out} (py-spy raw format)", flush=True)
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "250", "-o", out],
        stdout=subprocess.DEVNULL,
    )


def _print(f: Figures) -> None:
    print(
        f"{f.run.transport} {f.run.subscribers} subscribers, {f.expected // f.run.subscribers} "
        f"events: {f.delivered}/{f.expected} delivered, {f.errors} errors; "
        f"commit-to-delivery p50 {f.p50:.1f} ms, p99 {f.p99:.1f} ms, max {f.max:.1f} ms; "
        f"server RSS {f.rss_mib[0]:.0f} -> {f.rss_mib[1]:.0f} MiB, "
        f"{f.rss_per_subscriber_kib:.1f} KiB per subscriber",
        flush=True,
    )


def _run(value: str) -> Run:
    transport, _, count = value.partition(":")
    if transport not in {"ws", "sse"} or not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected ws:N or sse:N")
    return Run(transport, int(count))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: DATABASE_URL, else embedded")
    parser.add_argument(
        "--runs",
        type=_run,
        nargs="+",
        default=[Run("ws", 1000), Run("ws", 10000), Run("sse", 1000)],
        help="transport:subscribers, one server each (default: ws:1000 ws:10000 sse:1000)",
    )
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between changes")
    parser.add_argument("--clients", type=int, default=2, help="client processes per run")
    parser.add_argument(
        "--ws-compression",
        choices=["deflate", "none"],
        default="deflate",
        help="what the WebSocket clients offer (browsers offer deflate)",
    )
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy the server: PREFIX-ws-1000.txt")
    return parser


if __name__ == "__main__":
    main()
