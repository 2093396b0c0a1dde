"""Alembic environment: async, URL handed in by app.db.migrate (never read from a file)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.tables import metadata

config = context.config


def _include(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    """Trigram indexes exist only where pg_trgm does (revision 0001); not in the metadata."""
    return not (kind == "index" and name is not None and name.startswith("ix_trgm_"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=_include,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(config.attributes["database_url"], poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run `ordergraph migrate`.")
asyncio.run(_run_online())
