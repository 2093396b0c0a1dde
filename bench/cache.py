"""Cached fields, warm against cold: requests per second and SQL statements per request.

    make bench-cache BENCH_ARGS="--database-url postgresql+asyncpg://... --seconds 10"

Runs the app in this process (no HTTP server, so both runs pay the same overheads) on the
database (seeded if empty) and REDIS_URL when set, once with the field cache off (cold)
and once with it on after a first request (warm). Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import event

from app.main import create_app
from app.settings import Settings
from bench.queries import CACHED as QUERY
from bench.setup import prepare


async def measure(settings: Settings, seconds: float, token: str) -> tuple[float, float]:
    app = create_app(settings)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    async with app.router.lifespan_context(app):
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
        transport = httpx.ASGITransport(app=app)
        headers = {"authorization": f"Bearer {token}"}
        client = httpx.AsyncClient(transport=transport, base_url="http://b", headers=headers)
        async with client as c:
            response = await c.post("/graphql", json={"query": QUERY})
            assert "errors" not in response.json(), response.text[:300]
            statements = 0
            done = 0
            started = time.perf_counter()
            while time.perf_counter() - started < seconds:
                await c.post("/graphql", json={"query": QUERY})
                done += 1
            elapsed = time.perf_counter() - started
    return done / elapsed, statements / done


def main() -> None:
    args = _parser().parse_args()
    bench = prepare(args.database_url, "--users", "2000", "--products", "500")
    url, token = bench.database_url, bench.token
    redis_url = bench.env.get("REDIS_URL")
    cold = asyncio.run(measure(Settings(database_url=url, field_cache=False), args.seconds, token))
    warm = asyncio.run(
        measure(Settings(database_url=url, redis_url=redis_url), args.seconds, token)
    )
    store = "Redis" if redis_url else "memory"
    print(f"cached-fields query, in-process, {args.seconds:.0f} s each, cache in {store}:")
    print(f"  cold (cache off): {cold[0]:7.1f} req/s, {cold[1]:.1f} SQL statements per request")
    print(f"  warm:             {warm[0]:7.1f} req/s, {warm[1]:.1f} SQL statements per request")
    print(f"  warm/cold: {warm[0] / cold[0]:.1f}x")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: DATABASE_URL")
    parser.add_argument("--seconds", type=float, default=10)
    return parser


if __name__ == "__main__":
    main()
