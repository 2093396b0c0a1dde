"""Deterministic demo and benchmark data, loaded with COPY.

The same arguments always make the same rows (ids, names, prices, timestamps), so
benchmarks and bug reports can name a data set by its arguments alone.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from tqdm import tqdm

from app.db.tables import products, users

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ADMIN_EMAIL = "admin@example.com"
STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled")
FIRST_NAMES = (
    "Ada",
    "Alan",
    "Barbara",
    "Claude",
    "Donald",
    "Edsger",
    "Frances",
    "Grace",
    "Hedy",
    "Ivan",
    "John",
    "Katherine",
    "Linus",
    "Margaret",
    "Niklaus",
    "Radia",
    "Shafi",
    "Tim",
)
LAST_NAMES = (
    "Lovelace",
    "Turing",
    "Liskov",
    "Shannon",
    "Knuth",
    "Dijkstra",
    "Allen",
    "Hopper",
    "Lamarr",
    "Sutherland",
    "McCarthy",
    "Johnson",
    "Torvalds",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Goldwasser",
    "Berners-Lee",
)
ADJECTIVES = (
    "Ergonomic",
    "Rustic",
    "Sleek",
    "Durable",
    "Compact",
    "Wireless",
    "Organic",
    "Vintage",
    "Heavy-duty",
    "Portable",
    "Smart",
    "Handmade",
)
NOUNS = (
    "Keyboard",
    "Chair",
    "Lamp",
    "Backpack",
    "Kettle",
    "Headphones",
    "Notebook",
    "Mug",
    "Monitor",
    "Blanket",
    "Bicycle",
    "Camera",
    "Desk",
    "Speaker",
    "Jacket",
    "Teapot",
)
MATERIALS = ("steel", "oak", "cotton", "leather", "bamboo", "granite", "wool", "glass")


@dataclass(frozen=True, slots=True)
class SeedSpec:
    users: int = 200
    orders_per_user: int = 5
    items_per_order: int = 3
    products: int = 100
    seed: int = 1

    def check(self) -> None:
        if min(self.users, self.products) < 1:
            raise ValueError("--users and --products must be at least 1")
        if min(self.orders_per_user, self.items_per_order) < 0:
            raise ValueError("--orders-per-user and --items-per-order must not be negative")
        if self.items_per_order > self.products:
            raise ValueError("--items-per-order cannot exceed --products (items are distinct)")


class DatabaseNotEmpty(Exception):
    pass


async def is_empty(conn: AsyncConnection) -> bool:
    has_users = await conn.scalar(
        select(func.count()).select_from(select(users.c.id).limit(1).subquery())
    )
    has_products = await conn.scalar(
        select(func.count()).select_from(select(products.c.id).limit(1).subquery())
    )
    return not has_users and not has_products


async def seed(
    conn: AsyncConnection, spec: SeedSpec, *, truncate: bool = False, progress: bool = False
) -> None:
    """Load the data set described by spec in the caller's transaction."""
    spec.check()
    if truncate:
        await conn.execute(
            text(
                "TRUNCATE webhook_deliveries, webhooks, order_items, order_requests, orders, "
                "api_tokens, user_identities, products, users"
            )
        )
    elif not await is_empty(conn):
        raise DatabaseNotEmpty("the database already has data; pass --truncate to replace it")
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    rng = random.Random(spec.seed)

    product_rows = list(_products(rng, spec.products))
    await raw.copy_records_to_table("products", records=product_rows, columns=_PRODUCT_COLUMNS)
    catalog = [(row[0], row[4]) for row in product_rows]

    bar = tqdm(total=spec.users + 1, unit="user", disable=not progress, desc="seeding")
    for chunk in _chunks(_people(rng, spec.users), 2_000):
        await raw.copy_records_to_table("users", records=chunk, columns=_USER_COLUMNS)
        order_rows: list[tuple[Any, ...]] = []
        item_rows: list[tuple[Any, ...]] = []
        for person in chunk:
            for _ in range(spec.orders_per_user):
                order, items = _order(rng, person, catalog, spec.items_per_order)
                order_rows.append(order)
                item_rows.extend(items)
        await raw.copy_records_to_table("orders", records=order_rows, columns=_ORDER_COLUMNS)
        await raw.copy_records_to_table("order_items", records=item_rows, columns=_ITEM_COLUMNS)
        bar.update(len(chunk))
    bar.close()
    await conn.execute(text("ANALYZE users, products, orders, order_items"))


_PRODUCT_COLUMNS = [
    "id",
    "sku",
    "name",
    "description",
    "price",
    "stock",
    "created_at",
    "updated_at",
]
_USER_COLUMNS = ["id", "email", "name", "role", "created_at", "updated_at", "email_verified_at"]
_ORDER_COLUMNS = ["id", "user_id", "status", "total", "created_at", "updated_at"]
_ITEM_COLUMNS = ["id", "order_id", "product_id", "quantity", "unit_price", "line"]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _products(rng: random.Random, count: int) -> Iterator[tuple[Any, ...]]:
    for index in range(count):
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS).title()} {rng.choice(NOUNS)}"
        description = (
            f"A {name.lower()} made of {rng.choice(MATERIALS)}, "
            f"{rng.choice(('built to last', 'light and strong', 'easy to clean', 'made by hand'))}."
        )
        price = Decimal(rng.randint(99, 99_999)) / 100
        stock = 0 if rng.random() < 0.1 else rng.randint(1, 500)
        created = EPOCH + timedelta(seconds=index)
        yield (_uuid(rng), f"SKU-{index:06d}", name, description, price, stock, created, created)


def _people(rng: random.Random, count: int) -> Iterator[tuple[Any, ...]]:
    yield (_uuid(rng), ADMIN_EMAIL, "Admin", "admin", EPOCH, EPOCH, EPOCH)
    for index in range(count):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        created = EPOCH + timedelta(minutes=index + 1)
        yield (_uuid(rng), f"user{index:06d}@example.com", name, "user", created, created, created)


def _order(
    rng: random.Random,
    person: tuple[Any, ...],
    catalog: list[tuple[uuid.UUID, Decimal]],
    item_count: int,
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    order_id = _uuid(rng)
    created = person[4] + timedelta(seconds=rng.randint(0, 365 * 24 * 3600))
    items = []
    total = Decimal(0)
    for line, (product_id, price) in enumerate(rng.sample(catalog, item_count), start=1):
        quantity = rng.randint(1, 5)
        total += price * quantity
        items.append((_uuid(rng), order_id, product_id, quantity, price, line))
    order = (order_id, person[0], rng.choice(STATUSES), total, created, created)
    return order, items


def _chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
