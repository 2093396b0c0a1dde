"""Bulk import against raw COPY of the same file: rows per second.

    make bench-import BENCH_ARGS="--rows 1000000 --server postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

Makes a database of its own on the server (dropped at the end), writes a products CSV
of `--rows` rows, then times, one after another on the same server:

- raw COPY of the file into a bare table (the same column types, no constraint, no index);
- raw COPY into a table like `products` (its indexes, checks and generated search vector);
- `import_csv` (what `ordergraph import products` and importProducts run): parse, stage,
  check, merge with one audit record and one outbox event per row, commit.
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


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("sku,name,description,price,stock\n")
        for i in range(rows):
            out.write(
                f"B{i:08d},Product {i},A sturdy thing made of oak number {i % 977},"
                f"{(i % 50_000) / 100 + 1:.2f},{i % 300}\n"
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
            started = time.perf_counter()
            with path.open("rb") as source:
                async with transaction(engine) as conn:
                    result = await import_csv(
                        conn,
                        actor=actor,
                        entity=PRODUCTS,
                        source=source,
                        size=size,
                        mode=ImportMode.INSERT,
                    )
            imported = time.perf_counter() - started
            assert result.created == rows, result
            started = time.perf_counter()
            with path.open("rb") as source:
                async with transaction(engine) as conn:
                    again = await import_csv(
                        conn,
                        actor=actor,
                        entity=PRODUCTS,
                        source=source,
                        size=size,
                        mode=ImportMode.UPSERT,
                    )
            unchanged = time.perf_counter() - started
            assert again.unchanged == rows, again
        print(f"{'':44} {'seconds':>8} {'rows/s':>10} {'vs bare COPY':>13}")
        for label, seconds in (
            ("raw COPY into a bare table", bare),
            ("raw COPY into a table like products", like),
            ("import (insert: audit + events per row)", imported),
            ("import again (upsert, every row unchanged)", unchanged),
        ):
            print(f"{label:44} {seconds:8.1f} {rows / seconds:10,.0f} {bare / seconds:12.2f}x")
        print(f"target: import >= 0.5x bare COPY: {'met' if bare / imported >= 0.5 else 'missed'}")
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
