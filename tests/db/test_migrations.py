"""Alembic: the revisions go up and down cleanly and match the table definitions."""

from __future__ import annotations

import asyncio
import uuid
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
    assert {"users", "products", "orders", "order_items", "user_identities"} <= await table_names(
        empty_url
    )


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


async def test_revision_0004_distrusts_only_emails_users_last_set_themselves(
    empty_url: str,
) -> None:
    """An address a user gave themselves before identities were bound may be someone
    else's; every other existing address stays trusted."""
    await asyncio.to_thread(migrate.downgrade, empty_url, "0003")
    engine = create_async_engine(empty_url)
    ids = {name: uuid.uuid4() for name in ("seeded", "self_set", "admin_set_after")}
    changes = '{"email": {"before": "a@x.com", "after": "b@x.com"}}'
    try:
        async with engine.begin() as conn:
            for name, user_id in ids.items():
                await conn.execute(
                    text("INSERT INTO users (id, email, name) VALUES (:id, :email, 'x')"),
                    {"id": user_id, "email": f"{name}@example.com"},
                )
            admin = uuid.uuid4()
            trail = [
                ("self_set", "user", "self", "2026-01-01"),
                ("admin_set_after", "user", "self", "2026-01-01"),
                ("admin_set_after", "user", "admin", "2026-01-02"),
            ]
            for name, kind, who, day in trail:
                await conn.execute(
                    text(
                        "INSERT INTO audit_events (occurred_at, actor_id, actor_kind, action, "
                        "entity_type, entity_id, changes) VALUES "
                        "(CAST(:day AS text)::timestamptz, :actor, :kind, 'user.updated', 'User', "
                        ":id, CAST(:changes AS jsonb))"
                    ),
                    {
                        "day": day,
                        "actor": ids[name] if who == "self" else admin,
                        "kind": kind,
                        "id": ids[name],
                        "changes": changes,
                    },
                )
        await asyncio.to_thread(migrate.upgrade, empty_url)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT id, email_verified_at IS NOT NULL AS trusted FROM users")
            )
            trusted = {row.id: row.trusted for row in rows}
    finally:
        await engine.dispose()
    assert trusted == {ids["seeded"]: True, ids["self_set"]: False, ids["admin_set_after"]: True}
