"""Bulk import against raw COPY of the same file: rows per second.

    make bench-import BENCH_ARGS="--rows 1000000 --server postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

Makes a database of its own on the server (dropped at the end), writes a products CSV
of `--rows` rows, then times, one after another on the same server:

- raw COPY of the file into a bare table (the same column types, no constraint, no index);
- raw COPY into a table like `products` (its indexes, checks and generated search vector);
- `import_csv` (what `ordergraph import products` and importProducts run): parse, stage,
  check, merge with one audit record and one outbox event per row, commit; then again
  to upsert the same file (every row unchanged) and a file with every row changed.

It prints rows/s against both COPYs, and each import's stages.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth.viewer import Viewer
from app.db import migrate
from app.db.engine import transaction
from app.imports.formats import PRODUCTS, ImportMode
from app.imports.run import import_csv
from app.services.audit import Actor

COLUMNS = "sku, name, description, price, stock"


def write_csv(path: Path, rows: int, *, restock: int = 0) -> None:
    """`restock` > 0: the same products with that much more stock (every row changed)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("sku,name,description,price,stock\n")
        for i in range(rows):
            out.write(
                f"B{i:08d},Product {i},A sturdy thing made of oak number {i % 977},"
                f"{(i % 50_000) / 100 + 1:.2f},{i % 300 + restock}\n"
            )


async def raw_copy(engine: AsyncEngine, path: Path, table: str, like: str) -> float:
    async with engine.connect() as conn:
        await conn.execute(text(f"CREATE TABLE {table} ({like})"))
        await conn.commit()
        raw = (await conn.get_raw_connection()).driver_connection
        started = time.perf_counter()
        await raw.copy_to_table(  # type: ignore[union-attr]
            table, source=str(path), columns=COLUMNS.split(", "), format="csv", header=True
        )
        elapsed = time.perf_counter() - started
        await conn.execute(text(f"DROP TABLE {table}"))
        await conn.commit()
    return elapsed


async def run(server: str, rows: int) -> None:
    name = f"ordergraph_bench_import_{secrets.token_hex(3)}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "products.csv"
            write_csv(path, rows)
            size = path.stat().st_size
            print(f"{rows:,} products, {size / 2**20:.1f} MiB of CSV")
            bare = await raw_copy(
                engine,
                path,
                "bare",
                "sku text, name text, description text, price numeric(10,2), stock integer",
            )
            like = await raw_copy(engine, path, "like_products", "LIKE products INCLUDING ALL")
            async with transaction(engine) as conn:
                user_id = (
                    await conn.execute(
                        text(
                            "INSERT INTO users (email, name, role) "
                            "VALUES ('admin@example.com', 'Admin', 'admin') RETURNING id"
                        )
                    )
                ).scalar_one()
            actor = Actor(viewer=Viewer(user_id=user_id, role="admin"), kind="cli")
            changed_path = Path(tmp) / "restocked.csv"
            write_csv(changed_path, rows, restock=1)
            runs = []
            for label, file, mode in (
                ("import (insert: audit + events per row)", path, ImportMode.INSERT),
                ("import again (upsert, every row unchanged)", path, ImportMode.UPSERT),
                ("import again (upsert, every row changed)", changed_path, ImportMode.UPSERT),
            ):
                started = time.perf_counter()
                with file.open("rb") as source:
                    async with transaction(engine) as conn:
                        result = await import_csv(
                            conn,
                            actor=actor,
                            entity=PRODUCTS,
                            source=source,
                            size=file.stat().st_size,
                            mode=mode,
                        )
                        committing = time.perf_counter()
                result.timings["commit"] = time.perf_counter() - committing
                runs.append((label, time.perf_counter() - started, result.timings))
                assert result.failed == 0, result
            assert (result.created, result.updated) == (0, rows), result
        print(f"{'':44} {'seconds':>8} {'rows/s':>10} {'vs bare COPY':>13} {'vs like':>8}")
        for label, seconds in (
            ("raw COPY into a bare table", bare),
            ("raw COPY into a table like products", like),
            *((label, seconds) for label, seconds, _ in runs),
        ):
            print(
                f"{label:44} {seconds:8.1f} {rows / seconds:10,.0f} {bare / seconds:12.2f}x "
                f"{like / seconds:7.2f}x"
            )
        print("stages (seconds): load = parse + COPY to staging, check = the rules in SQL,")
        print("match = upsert: which lines change their row (one join),")
        print("merge = products, audit records and events, commit")
        for label, _, timings in runs:
            print(f"  {label:42} " + "  ".join(f"{k} {v:.1f}" for k, v in timings.items()))
        print(
            f"target: import >= 0.5x bare COPY: {'met' if bare / runs[0][1] >= 0.5 else 'missed'}"
        )
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--server",
        default=os.environ.get(
            "DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
        help="a server to make the bench database on (default DATABASE_URL, or local)",
    )
    args = parser.parse_args()
    asyncio.run(run(args.server, args.rows))


if __name__ == "__main__":
    main()
