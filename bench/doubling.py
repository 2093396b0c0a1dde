"""Hostile documents against one real worker: time to answer, the code, and meanwhile
how long /healthz takes.

    make bench-limits BENCH_ARGS="--database-url postgresql+asyncpg://..."

Sends, one at a time, fragments that each spread the next twice (30 of them) and chains
of 200, 300 and 1000 fragments; while each is in flight, /healthz is asked every 50 ms.
Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

import httpx

from bench.servers import Peer, running
from bench.setup import prepare


def doubling(count: int) -> str:
    parts = [
        f"fragment E{i} on Query {{ __typename ...E{i + 1} ...E{i + 1} }}" for i in range(count)
    ]
    return "{ ...E0 } " + " ".join([*parts, f"fragment E{count} on Query {{ __typename }}"])


def chain(count: int) -> str:
    parts = [f"fragment E{i} on Query {{ __typename ...E{i + 1} }}" for i in range(count)]
    return "{ ...E0 } " + " ".join([*parts, f"fragment E{count} on Query {{ __typename }}"])


DOCUMENTS = {
    "doubling x30": doubling(30),
    "chain x200": chain(200),
    "chain x300": chain(300),
    "chain x1000": chain(1000),
}


async def probe(client: httpx.AsyncClient, health: str, done: asyncio.Event) -> list[float]:
    """Seconds each /healthz took until `done` (a probe that timed out counts its wait)."""
    took: list[float] = []
    while not done.is_set():
        started = time.perf_counter()
        with contextlib.suppress(httpx.TimeoutException):
            await client.get(health, timeout=10)
        took.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    return took


async def measure(endpoint: str, name: str, document: str, wait: float) -> None:
    health = endpoint.removesuffix("/graphql") + "/healthz"
    async with httpx.AsyncClient() as client:
        done = asyncio.Event()
        probes = asyncio.create_task(probe(client, health, done))
        started = time.perf_counter()
        try:
            response = await client.post(endpoint, json={"query": document}, timeout=wait)
            errors = response.json().get("errors") or [{}]
            code = errors[0].get("extensions", {}).get("code", "(no code)")
            answer = f"{response.status_code} {code}"
        except httpx.TimeoutException:
            answer = f"no answer in {wait:.0f} s"
        elapsed = time.perf_counter() - started
        done.set()
        took = await probes
    worst = max(took) * 1000 if took else float("nan")
    print(
        f"{name:<14} {len(document):>7} B  {elapsed * 1000:>9.1f} ms  {answer:<32} "
        f"/healthz x{len(took):<3} worst {worst:.1f} ms"
    )


async def run(database_url: str, wait: float) -> None:
    async with running(Peer("limits", "ordergraph", {"WEB_CONCURRENCY": "1"}), database_url) as r:
        print(f"{'document':<14} {'size':>9}  {'answer in':>12}  {'status, code':<32} probes")
        for name, document in DOCUMENTS.items():
            await measure(r.endpoint, name, document, wait)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: DATABASE_URL")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait per document")
    args = parser.parse_args()
    bench = prepare(args.database_url)
    asyncio.run(run(bench.database_url, args.timeout))


if __name__ == "__main__":
    main()
