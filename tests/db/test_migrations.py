"""Alembic: revision 1 goes up and down cleanly and matches the table definitions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import migrate
from app.db.tables import metadata


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    assert {"users", "products", "orders", "order_items"} <= await table_names(empty_url)
    await asyncio.to_thread(migrate.downgrade, empty_url, "base")
    assert await table_names(empty_url) == {"alembic_version"}
    await asyncio.to_thread(migrate.upgrade, empty_url)
    assert {"users", "products", "orders", "order_items"} <= await table_names(empty_url)


async def test_migrations_match_the_table_definitions(empty_url: str) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return [
            change
            for change in compare_metadata(context, metadata)
            # Trigram indexes exist only where pg_trgm does (see revision 0001).
            if not (change[0] == "remove_index" and change[1].name.startswith("ix_trgm_"))
        ]

    engine = create_async_engine(empty_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_every_foreign_key_is_indexed(empty_url: str) -> None:
    engine = create_async_engine(empty_url)
    try:
        async with engine.connect() as conn:
            unindexed = (
                await conn.execute(
                    text(
                        """
                        SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c
                        WHERE c.contype = 'f' AND NOT EXISTS (
                          SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid
                          AND i.indkey[0] = c.conkey[1])
                        """
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert unindexed == []


async def test_database_refuses_invalid_rows(empty_url: str) -> None:
    engine = create_async_engine(empty_url)
    bad = [
        "INSERT INTO users (email, name) VALUES ('Upper@Example.com', 'x')",
        "INSERT INTO users (email, name) VALUES ('a@example.com', '')",
        "INSERT INTO products (sku, name, price) VALUES ('SKU-1', 'x', -1)",
        "INSERT INTO products (sku, name, price, stock) VALUES ('SKU-1', 'x', 1, -1)",
        "INSERT INTO products (sku, name, price) VALUES ('bad sku', 'x', 1)",
        "INSERT INTO orders (user_id) VALUES (gen_random_uuid())",
    ]
    try:
        for statement in bad:
            async with engine.connect() as conn:
                with pytest.raises(IntegrityError, match="violates"):
                    await conn.execute(text(statement))
    finally:
        await engine.dispose()
