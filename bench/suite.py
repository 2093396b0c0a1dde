"""ordergraph side by side with PostGraphile v5 and the database floor (issue 6).

    make bench                                  # 10k users, 8 s runs, c=4 and c=32, x3
    make bench BENCH_ARGS="--limits --only 'user(id),products(first: 50)'"  # checks on/off
    make bench BENCH_ARGS="--quick"             # 1 s runs, once each: a smoke check
    make bench BENCH_ARGS="--users 100000 --only heavy,user(id) --peers ordergraph,floor"
    BENCH_SHOW_SQL=1 make bench ...              # also list the statements counted per query

Creates (or reuses) the database ordergraph_bench_<users> on the server of
--database-url / DATABASE_URL, then starts each peer in turn on loopback with the same
pool size: once through a counting proxy (SQL statements and rows per request, read on
the wire) and once directly for the load (wrk from its own process: a warm-up, then
fixed-length runs at two concurrencies, repeated). Before any load, each peer's answer
must equal the floor's, normalised to one shape; the bench stops if they differ, and
fails if requests fail under load. Missed targets are reported, not fatal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench import database, floor, report, servers, summary, wrk
from bench.pgwire import CountingProxy
from bench.queries import NAMES, Ask, Body, Query, build
from bench.report import Result, Wire, find
from bench.setup import admin_token

RESULTS = Path(__file__).parent / "results"
CHECKED = 3
"""How many of a query's bodies (random ids) are compared with the floor's answer."""
COUNTED = 20
"""Sequential requests per query in the counting phase."""


class Disagreement(Exception):
    """A peer's answer is not the floor's, or a request failed outright."""


@dataclass(frozen=True)
class Plan:
    url: str
    token: str
    queries: list[Query]
    truth: dict[str, list[Any]]
    """The floor's normalised answers, per query, for the first CHECKED bodies."""
    concurrencies: tuple[int, ...]
    seconds: int
    repeats: int


async def main_async(args: argparse.Namespace) -> int:
    wrk.ensure_installed()
    candidates = servers.limit_peers() if args.limits else servers.peers()
    peers = [p for p in candidates if _wanted(p.name, args.peers)]
    if any(p.kind == "postgraphile" for p in peers):
        servers.ensure_postgraphile()
    url = await database.ensure(
        database.server_url(args.database_url), users=args.users, reseed=args.reseed
    )
    token = admin_token({**os.environ, "DATABASE_URL": url})
    conn = await asyncpg.connect(database.dsn(url))
    try:
        queries = [q for q in await build(conn) if _wanted(q.name, args.only)]
    finally:
        await conn.close()
    truth = {
        q.name: [
            q.floor.normalise(await floor.answer(database.dsn(url), q.floor, i))
            for i in range(min(CHECKED, len(q.floor.args)))
        ]
        for q in queries
    }
    plan = Plan(url, token, queries, truth, (args.moderate, args.high), args.seconds, args.repeats)
    target = make_url(url)
    proxy = CountingProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    results: list[Result] = []
    if args.limits:
        await proxy.stop()
        results = await _measure_alternating(plan, peers)
        print("\n" + report.limits_ratio(results), flush=True)
        return await _report(results, args, url)
    try:
        for peer in peers:
            print(f"== {peer.name}", flush=True)
            results += await _measure_peer(plan, peer, proxy)
        if _wanted("floor", args.peers) and not args.limits:
            print("== floor", flush=True)
            results += await _measure_floor(plan, proxy)
    except Disagreement as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        await proxy.stop()
    return await _report(results, args, url)


def _wanted(name: str, selected: str | None) -> bool:
    if not selected:
        return True
    return any(name.startswith(part.strip()) for part in selected.split(","))


async def _measure_peer(plan: Plan, peer: servers.Peer, proxy: CountingProxy) -> list[Result]:
    ours = peer.kind == "ordergraph"
    headers = {"authorization": f"Bearer {plan.token}"} if ours else {}
    queries = [
        q
        for q in plan.queries
        if (q.cached or not peer.only_cached) and (q.ordergraph if ours else q.postgraphile)
    ]
    wires: dict[str, Wire] = {}
    proxied = make_url(plan.url).set(host="127.0.0.1", port=proxy.port)
    async with (
        servers.running(
            peer, proxied.render_as_string(hide_password=False), quiet_events=True
        ) as server,
        httpx.AsyncClient(timeout=120, headers=headers) as client,
    ):
        for query in queries:
            ask = query.ordergraph if ours else query.postgraphile
            assert ask is not None
            bodies = await _checked(client, server.endpoint, plan, query, ask, peer.name)
            # Uncounted first: each pooled connection introspects a parameter type (uuid[])
            # the first time it meets it, once per connection, not per request.
            for n in range(COUNTED):
                await _post(client, server.endpoint, bodies[n % len(bodies)])
            proxy.counting = True
            proxy.reset()
            for n in range(COUNTED):
                await _post(client, server.endpoint, bodies[n % len(bodies)])
            proxy.counting = False
            counts = proxy.reset()
            if os.environ.get("BENCH_SHOW_SQL"):
                print(f"  {query.name}: statements seen", flush=True)
                for text in sorted(set(counts.texts)):
                    shown = " ".join(text.split())[:110]
                    print(f"    {counts.texts.count(text):3d}x {shown}", flush=True)
            wires[query.name] = Wire(
                counts.statements / COUNTED, counts.control / COUNTED, counts.rows / COUNTED
            )
    results: list[Result] = []
    async with servers.running(peer, plan.url) as server:
        async with httpx.AsyncClient(timeout=120, headers=headers) as client:
            for query in queries:
                ask = query.ordergraph if ours else query.postgraphile
                assert ask is not None
                bodies = await _checked(client, server.endpoint, plan, query, ask, peer.name)
                read_path = None
                if ours:
                    # The plan is compiled on a document's second request: ask twice.
                    for _ in range(2):
                        served = await client.post(server.endpoint, json=bodies[0])
                    read_path = served.headers.get("x-read-path")
                    print(f"  {peer.name} {query.name}: served by the {read_path}", flush=True)
                baseline = await _lone_ms(client, server.endpoint, bodies[0])
                warm_up = (max(plan.concurrencies), max(1, plan.seconds // 2), False)
                runs = [warm_up]
                runs += [(c, plan.seconds, True) for c in plan.concurrencies] * plan.repeats
                for c, seconds, measured in runs:
                    run = await wrk.run(
                        server.endpoint, bodies, headers, connections=c, seconds=seconds
                    )
                    # wrk leaves requests in flight when it stops: let the server finish
                    # them before the next run, or that run measures the backlog.
                    await _settle(client, server.endpoint, bodies[0], baseline)
                    if measured:
                        result = find(results, query.name, peer.name, c)
                        if result is None:
                            result = Result(query.name, peer.name, c, wire=wires[query.name])
                            result.read_path = read_path
                            results.append(result)
                        result.runs.append(run)
                for c in plan.concurrencies:
                    _progress(find(results, query.name, peer.name, c))
        rss = server.peak_rss_mib()
    for result in results:
        result.peak_rss_mib = rss
    return results


async def _measure_alternating(plan: Plan, peers: list[servers.Peer]) -> list[Result]:
    """The peers running side by side, their wrk runs taken in turn (A B A B ...), so a
    machine whose load changes (other jobs on its cores) weighs on both alike: for
    comparing one server with and without a feature, not for the wire counts."""
    headers = {"authorization": f"Bearer {plan.token}"}
    results: list[Result] = []
    async with contextlib.AsyncExitStack() as stack:
        running = [await stack.enter_async_context(servers.running(p, plan.url)) for p in peers]
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=120, headers=headers))
        for query in plan.queries:
            assert query.ordergraph is not None
            bodies = {
                peer.name: await _checked(
                    client, server.endpoint, plan, query, query.ordergraph, peer.name
                )
                for peer, server in zip(peers, running, strict=True)
            }
            lone = {
                peer.name: await _lone_ms(client, server.endpoint, bodies[peer.name][0])
                for peer, server in zip(peers, running, strict=True)
            }
            warm_up = [(max(plan.concurrencies), max(1, plan.seconds // 2), False)]
            runs = warm_up + [(c, plan.seconds, True) for c in plan.concurrencies] * plan.repeats
            for c, seconds, measured in runs:
                for peer, server in zip(peers, running, strict=True):
                    run = await wrk.run(
                        server.endpoint, bodies[peer.name], headers, connections=c, seconds=seconds
                    )
                    await _settle(client, server.endpoint, bodies[peer.name][0], lone[peer.name])
                    if measured:
                        result = find(results, query.name, peer.name, c)
                        if result is None:
                            result = Result(query.name, peer.name, c)
                            results.append(result)
                        result.runs.append(run)
            for peer in peers:
                for c in plan.concurrencies:
                    _progress(find(results, query.name, peer.name, c))
    return results


async def _checked(
    client: httpx.AsyncClient, endpoint: str, plan: Plan, query: Query, ask: Ask, peer: str
) -> list[Body]:
    """The peer's bodies for `query`, once its answers are known to equal the floor's."""

    async def post(body: Body) -> Any:
        return await _post(client, endpoint, body)

    bodies = await ask.bodies(post)
    for index, expected in enumerate(plan.truth[query.name]):
        got = ask.normalise(await post(bodies[index]))
        if got != expected:
            raise Disagreement(
                f"{peer} answers {query.name} (body {index}) differently from the floor:\n"
                f"  {peer}: {str(got)[:600]}\n  floor: {str(expected)[:600]}"
            )
    return bodies


async def _lone_ms(client: httpx.AsyncClient, endpoint: str, body: Body) -> float:
    """The fastest of three requests in turn, in milliseconds."""
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        await _post(client, endpoint, body)
        timings.append((time.perf_counter() - start) * 1000)
    return min(timings)


async def _settle(client: httpx.AsyncClient, endpoint: str, body: Body, lone_ms: float) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if await _lone_ms(client, endpoint, body) <= 2 * lone_ms + 5:
            return


async def _post(client: httpx.AsyncClient, endpoint: str, body: Body) -> Any:
    response = await client.post(endpoint, json=body)
    payload = response.json() if response.status_code == 200 else None
    if payload is None or payload.get("errors"):
        raise Disagreement(f"{endpoint} answered {response.status_code}: {response.text[:500]}")
    return payload["data"]


async def _measure_floor(plan: Plan, proxy: CountingProxy) -> list[Result]:
    target = make_url(plan.url)
    dsn = database.dsn(plan.url)
    proxied = database.dsn(
        target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )
    results: list[Result] = []
    for query in plan.queries:
        proxy.counting = True
        proxy.reset()
        await floor.sequential(proxied, query.floor, COUNTED)
        proxy.counting = False
        counts = proxy.reset()
        wire = Wire(counts.statements / COUNTED, counts.control / COUNTED, counts.rows / COUNTED)
        await floor.load(
            dsn,
            query.floor,
            connections=max(plan.concurrencies),
            seconds=max(1, plan.seconds // 2),
            pool_size=servers.POOL_SIZE,
        )
        for c in plan.concurrencies:
            result = Result(query.name, report.FLOOR, c, wire=wire)
            for _ in range(plan.repeats):
                result.runs.append(
                    await floor.load(
                        dsn,
                        query.floor,
                        connections=c,
                        seconds=plan.seconds,
                        pool_size=servers.POOL_SIZE,
                    )
                )
            _progress(result)
            results.append(result)
    return results


def _progress(result: Result | None) -> None:
    if result is None:
        return
    failed = sum(r.failed or not r.requests for r in result.runs)
    print(
        f"  {result.query:22} c={result.concurrency:<3} {result.rps:8.0f} req/s"
        f"  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms"
        + (f"  FAILED REQUESTS: {failed}" if failed else ""),
        flush=True,
    )


async def _report(results: list[Result], args: argparse.Namespace, url: str) -> int:
    found = report.targets(results, moderate=args.moderate)
    failed = [r for r in results if any(run.failed or not run.requests for run in r.runs)]
    table = report.text_table(results)
    print("\n" + table + "\n\nTargets:\n" + report.targets_text(found))
    conn = await asyncpg.connect(database.dsn(url))
    try:
        postgresql = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    machine = _machine(postgresql)
    RESULTS.mkdir(exist_ok=True)
    # A full run is the day's record; a partial or quick one is kept beside it, not over it.
    partial = args.quick or args.only or args.peers
    stem = RESULTS / (time.strftime("%Y-%m-%d") + ("-partial" if partial else ""))
    arguments = {k: v for k, v in vars(args).items() if k != "database_url"}
    stem.with_suffix(".json").write_text(
        json.dumps(
            {
                "machine": machine,
                "args": arguments,
                "results": [r.as_json() for r in results],
                "targets": [t.__dict__ for t in found],
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    stem.with_suffix(".md").write_text(
        f"# Bench {time.strftime('%Y-%m-%d')}\n\n"
        + "".join(f"- {k}: {v}\n" for k, v in machine.items())
        + f"- args: {' '.join(sys.argv[1:]) or '(defaults)'}\n\n"
        + "## Summary\n\n"
        + summary.summary([r.as_json() for r in results])
        + "\n\n## All figures\n\n"
        + report.markdown_table(results)
        + "\n\n## Targets\n\n"
        + "".join(f"- {'met' if t.met else '**missed**'}: {t.name} ({t.detail})\n" for t in found)
    )
    print(f"\nwritten: {stem}.json, {stem}.md")
    if failed:
        names = ", ".join(f"{r.peer} {r.query} c={r.concurrency}" for r in failed)
        print(f"FAILED: requests failed under load: {names}", file=sys.stderr)
        return 1
    return 0


def _machine(postgresql: str) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [
        line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line
    ]
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]

    def output(*command: str) -> str:
        try:
            return subprocess.run(
                command, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    dirty = output("git", "status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": models[0] if models else platform.processor(),
        "cpus": len(models) or os.cpu_count(),
        "memory_gib": round(int(memory) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "node": output(str(servers.NODE), "--version"),
        "postgresql": postgresql,
        "commit": output("git", "rev-parse", "--short", "HEAD") + (" (modified)" if dirty else ""),
        "redis": servers.redis_url() is not None,
    }


def main() -> None:
    args = _parser().parse_args()
    if args.quick:
        args.seconds, args.repeats = 1, 1
    sys.exit(asyncio.run(main_async(args)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.suite",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", help="the server to use; default: DATABASE_URL")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--reseed", action="store_true", help="drop and recreate the database")
    parser.add_argument("--seconds", type=int, default=8, help="length of each run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--moderate", type=int, default=4, help="moderate concurrency")
    parser.add_argument("--high", type=int, default=32, help="high concurrency")
    parser.add_argument("--quick", action="store_true", help="1 s runs, once each")
    parser.add_argument("--only", help=f"queries, comma-separated prefixes of: {', '.join(NAMES)}")
    parser.add_argument(
        "--peers",
        help="comma-separated prefixes of: ordergraph x1, ordergraph x2, "
        "ordergraph x1 cold, postgraphile, floor",
    )
    parser.add_argument(
        "--limits",
        action="store_true",
        help="instead of the peers: one worker with the cost and rate limits off and one "
        "with them on (through Redis), side by side, their runs in turn, and the "
        "throughput ratio per query",
    )
    return parser


if __name__ == "__main__":
    main()
