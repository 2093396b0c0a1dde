"""Where a query's time goes in a real server under load: py-spy samples, summed.

    make profile                                   # Heavy, one worker, 15 s of samples
    make profile BENCH_ARGS="--query products --seconds 20"

Uses the bench's database (made and seeded as `make bench` does), starts one
`ordergraph serve` worker, loads it with wrk from its own process, samples the worker
with py-spy, and prints the functions with the most samples of their own (self) and
in total (inclusive). Reading: self time is where to cut; inclusive time is which path
leads there. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import httpx

from bench import database, servers, wrk
from bench.queries import Query, build
from bench.setup import admin_token

FRAME = re.compile(r"(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


def short(frame: str) -> str:
    """`function (file)`, the file relative to site-packages or the project."""
    found = FRAME.match(frame)
    if found is None:
        return frame
    path = found["file"].split("site-packages/")[-1]
    path = path.removeprefix(str(Path.cwd()) + "/")
    return f"{found['function']} ({path})"


def tally(raw: str) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """Samples in all, and per function: self samples and inclusive samples, from
    py-spy's raw (collapsed stack) output: `frame;frame;... count` per line."""
    total = 0
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [short(f) for f in stack.split(";")]
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return total, own, inclusive


def report(raw: str, top: int) -> str:
    total, own, inclusive = tally(raw)
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "self:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


async def _query(url: str, name: str) -> Query:
    conn = await asyncpg.connect(database.dsn(url))
    try:
        queries = await build(conn)
    finally:
        await conn.close()
    for query in queries:
        if query.name.startswith(name):
            return query
    raise SystemExit(f"no query named {name!r}; try one of {[q.name for q in queries]}")


async def main_async(args: argparse.Namespace) -> None:
    wrk.ensure_installed()
    url = await database.ensure(
        database.server_url(args.database_url), users=args.users, reseed=False
    )
    token = admin_token({**os.environ, "DATABASE_URL": url})
    query = await _query(url, args.query)
    peer = servers.Peer("ordergraph x1", "ordergraph", {"WEB_CONCURRENCY": "1"})
    headers = {"authorization": f"Bearer {token}"}
    async with servers.running(peer, url) as server:
        async with httpx.AsyncClient(timeout=120, headers=headers) as client:

            async def post(body: dict[str, object]) -> object:
                response = await client.post(server.endpoint, json=body)
                return response.json().get("data")

            bodies = await query.ordergraph.bodies(post)
        load = asyncio.create_task(
            wrk.run(
                server.endpoint,
                bodies,
                headers,
                connections=args.connections,
                seconds=args.seconds + 4,
            )
        )
        await asyncio.sleep(2)
        with tempfile.NamedTemporaryFile(suffix=".txt") as out:
            sampled = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(args.seconds),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                out.name,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await sampled.wait()
            # py-spy writes a new file at the path: read the path, not our handle.
            raw = await asyncio.to_thread(Path(out.name).read_text)
        result = await load
    print(f"{query.name}: {result.rps:.1f} req/s under wrk -c{args.connections} while sampled\n")
    print(report(raw, args.top))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: DATABASE_URL's server")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--query", default="heavy", help="a bench query name (prefix)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--top", type=int, default=30)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
