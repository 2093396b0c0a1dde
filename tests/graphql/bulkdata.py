"""Rows for the bulk-write tests, made through the services as the API would make them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.viewer import Viewer
from app.db.engine import transaction
from app.db.seed import ADMIN_EMAIL
from app.services import orders, products, users
from app.services.audit import Actor
from tests.dbtools import fetch_all, fetch_value


async def admin(url: str) -> Actor:
    """The seeded admin, acting as through the API."""
    admin_id = await fetch_value(url, "SELECT id FROM users WHERE email = :e", e=ADMIN_EMAIL)
    return Actor(viewer=Viewer(user_id=admin_id, role="admin"))


async def new_products(url: str, count: int, *, stock: int = 10) -> list[uuid.UUID]:
    """`count` products no order refers to, in id order."""
    actor = await admin(url)
    engine = create_async_engine(url)
    try:
        async with transaction(engine) as conn:
            made = [
                await products.create_product(
                    conn,
                    actor=actor,
                    data=products.NewProduct(
                        sku=f"BULK-{uuid.uuid4().hex[:12]}", name="Bulk", price="5", stock=stock
                    ),
                )
                for _ in range(count)
            ]
    finally:
        await engine.dispose()
    return sorted(product.id for product in made)


async def new_users(url: str, count: int) -> list[uuid.UUID]:
    """`count` users with no orders."""
    actor = await admin(url)
    engine = create_async_engine(url)
    try:
        async with transaction(engine) as conn:
            made = [
                await users.create_user(
                    conn,
                    actor=actor,
                    data=users.NewUser(email=f"bulk-{uuid.uuid4().hex[:12]}@example.com", name="B"),
                )
                for _ in range(count)
            ]
    finally:
        await engine.dispose()
    return [user.id for user in made]


async def new_orders(url: str, product_ids: list[uuid.UUID], *, quantity: int = 1) -> list[Any]:
    """One PENDING order of `quantity` per product, placed by the admin."""
    actor = await admin(url)
    engine = create_async_engine(url)
    try:
        async with transaction(engine) as conn:
            placed = [
                await orders.place_order(
                    conn,
                    actor=actor,
                    data=orders.NewOrder(
                        items=[orders.Line(product_id=product_id, quantity=quantity)],
                        idempotency_key=uuid.uuid4().hex,
                    ),
                )
                for product_id in product_ids
            ]
    finally:
        await engine.dispose()
    return placed


async def versions(url: str, table: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = await fetch_all(url, f"SELECT id, version FROM {table} WHERE id = ANY(:ids)", ids=ids)
    return {row.id: row.version for row in rows}


async def count_of(url: str, sql: str, **params: Any) -> int:
    value: int = await fetch_value(url, sql, **params)
    return value


async def events_of(url: str, type: str, ids: list[uuid.UUID]) -> list[Any]:
    """The events of these entities once the relay has moved them into the log, in
    log order (the order subscribers receive them)."""
    for _ in range(100):
        if not await fetch_value(url, "SELECT count(*) FROM outbox"):
            break
        await asyncio.sleep(0.05)
    return await fetch_all(
        url,
        "SELECT entity_id, owner_id, changed_fields, data FROM events "
        "WHERE type = :t AND entity_id = ANY(:ids) ORDER BY position",
        t=type,
        ids=ids,
    )
