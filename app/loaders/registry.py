"""The loaders of one request: keyed lookups, and per-argument page loaders."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth import api_tokens
from app.db.engine import connect
from app.observability import tracing
from app.queries import audit, orders, products, stats, users
from app.queries.keyset import Page, Window

K = TypeVar("K")
V = TypeVar("V")


class Loader(Generic[K, V]):
    """A typed DataLoader over `fetch(conn, keys) -> one result per key, in key order`."""

    def __init__(
        self,
        engine: AsyncEngine,
        fetch: Callable[[AsyncConnection, Sequence[K]], Awaitable[list[V]]],
    ) -> None:
        module = getattr(fetch, "__module__", None) or ""
        name = f"{module.rsplit('.', 1)[-1]}.{getattr(fetch, '__name__', 'batch')}"

        async def batch(keys: list[K]) -> list[V]:
            # One span per batch (a level of the query), never one per field.
            tracer = tracing.tracer()
            if tracer is None:
                async with connect(engine) as conn:
                    return await fetch(conn, keys)
            with tracer.start_as_current_span("dataloader.batch") as span:
                span.set_attribute("dataloader.name", name)
                span.set_attribute("dataloader.keys", len(keys))
                async with connect(engine) as conn:
                    return await fetch(conn, keys)

        # No max_batch_size: a level is one statement however many keys it has (the
        # keys travel as one array parameter, so the statement text stays the same).
        self._loader = DataLoader(batch)

    def load(self, key: K) -> Awaitable[V]:
        result: Awaitable[V] = self._loader.load(key)
        return result

    def load_many(self, keys: Sequence[K]) -> Awaitable[list[V]]:
        result: Awaitable[list[V]] = self._loader.load_many(keys)
        return result


@dataclass(frozen=True, slots=True)
class OrderLines:
    """The items of a level's orders, by order id, and (if asked) their products by id."""

    items: Mapping[uuid.UUID, list[orders.OrderItemRecord]]
    products: Mapping[uuid.UUID, products.ProductRecord]


class Loaders:
    """Everything one request reads, batched per level of the query."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._keyed: dict[tuple[Any, ...], Loader[Any, Any]] = {}

    # Keyed lookups, made on first use: most requests need one or two of them.
    @property
    def user_by_id(self) -> Loader[uuid.UUID, users.UserRecord | None]:
        return self._memo(("user_by_id",), users.users_by_id)

    @property
    def product_by_id(self) -> Loader[uuid.UUID, products.ProductRecord | None]:
        return self._memo(("product_by_id",), products.products_by_id)

    @property
    def order_by_id(self) -> Loader[uuid.UUID, orders.OrderRecord | None]:
        return self._memo(("order_by_id",), orders.orders_by_id)

    @property
    def order_item_by_id(self) -> Loader[uuid.UUID, orders.OrderItemRecord | None]:
        return self._memo(("order_item_by_id",), orders.items_by_id)

    @property
    def items_by_order_id(self) -> Loader[uuid.UUID, list[orders.OrderItemRecord]]:
        return self._memo(("items_by_order_id",), orders.items_by_order_id)

    @property
    def tokens_by_user_id(self) -> Loader[uuid.UUID, list[api_tokens.ApiTokenRecord]]:
        return self._memo(("tokens_by_user_id",), api_tokens.tokens_by_user_id)

    @property
    def token_by_id(self) -> Loader[uuid.UUID, api_tokens.ApiTokenRecord | None]:
        return self._memo(("token_by_id",), api_tokens.tokens_by_id)

    @property
    def audit_event_by_id(self) -> Loader[uuid.UUID, audit.AuditRecord | None]:
        return self._memo(("audit_event_by_id",), audit.audit_events_by_id)

    @property
    def order_stats_by_user_id(self) -> Loader[uuid.UUID, stats.OrderStats]:
        return self._memo(("order_stats_by_user_id",), stats.order_stats_by_user_id)

    def clear(self) -> None:
        """Forget everything read (the operation is over): what the loaders cached is
        freed now, not when the cycle collector next finds the finished operation."""
        self._keyed.clear()

    def orders_page_by_user_id(
        self, where: orders.OrderWhere | None, window: Window
    ) -> Loader[uuid.UUID, Page[orders.OrderRecord]]:
        """Pages of each user's orders; one loader (one statement) per argument set."""

        async def fetch(
            conn: AsyncConnection, keys: Sequence[uuid.UUID]
        ) -> list[Page[orders.OrderRecord]]:
            return await orders.orders_pages_by_user_id(conn, keys, where=where, window=window)

        return self._memo(("orders_page_by_user_id", where, window), fetch)

    def orders_page_with_lines_by_user_id(
        self, where: orders.OrderWhere | None, window: Window, *, with_products: bool
    ) -> Loader[uuid.UUID, tuple[Page[orders.OrderRecord], OrderLines]]:
        """Like orders_page_by_user_id, with the next levels fetched whole in the same
        batch: every page's items in one statement and their products in one more, on
        the same connection, instead of one loader key per order and per item."""

        async def fetch(
            conn: AsyncConnection, keys: Sequence[uuid.UUID]
        ) -> list[tuple[Page[orders.OrderRecord], OrderLines]]:
            pages = await orders.orders_pages_by_user_id(conn, keys, where=where, window=window)
            order_ids = [row.id for page in pages for row in page.rows]
            item_lists = await orders.items_by_order_id(conn, order_ids) if order_ids else []
            found: dict[uuid.UUID, products.ProductRecord] = {}
            if with_products:
                product_ids = list({i.product_id: None for items in item_lists for i in items})
                for record in (
                    await products.products_by_id(conn, product_ids) if product_ids else []
                ):
                    if record is not None:
                        found[record.id] = record
            lines = OrderLines(dict(zip(order_ids, item_lists, strict=True)), found)
            return [(page, lines) for page in pages]

        return self._memo(
            ("orders_page_with_lines_by_user_id", where, window, with_products), fetch
        )

    def audit_page_by_entity_id(
        self, where: audit.AuditWhere | None, window: Window
    ) -> Loader[uuid.UUID, Page[audit.AuditRecord]]:
        """Pages of each object's history; one loader (one statement) per argument set."""

        async def fetch(
            conn: AsyncConnection, keys: Sequence[uuid.UUID]
        ) -> list[Page[audit.AuditRecord]]:
            return await audit.audit_pages_by_entity_id(conn, keys, where=where, window=window)

        return self._memo(("audit_page_by_entity_id", where, window), fetch)

    def audit_count_by_entity_id(self, where: audit.AuditWhere | None) -> Loader[uuid.UUID, int]:
        async def fetch(conn: AsyncConnection, keys: Sequence[uuid.UUID]) -> list[int]:
            return await audit.count_audit_by_entity_id(conn, keys, where=where)

        return self._memo(("audit_count_by_entity_id", where), fetch)

    def sales_by_product_id(self, since: datetime | None) -> Loader[uuid.UUID, stats.SalesStats]:
        async def fetch(conn: AsyncConnection, keys: Sequence[uuid.UUID]) -> list[stats.SalesStats]:
            return await stats.sales_by_product_id(conn, keys, since=since)

        return self._memo(("sales_by_product_id", since), fetch)

    def order_count_by_user_id(self, where: orders.OrderWhere | None) -> Loader[uuid.UUID, int]:
        async def fetch(conn: AsyncConnection, keys: Sequence[uuid.UUID]) -> list[int]:
            return await orders.count_orders_by_user_id(conn, keys, where=where)

        return self._memo(("order_count_by_user_id", where), fetch)

    def _memo(
        self,
        key: tuple[Any, ...],
        fetch: Callable[[AsyncConnection, Sequence[K]], Awaitable[list[V]]],
    ) -> Loader[K, V]:
        loader = self._keyed.get(key)
        if loader is None:
            loader = self._keyed[key] = Loader(self.engine, fetch)
        return loader

    async def run(self, read: Callable[[AsyncConnection], Awaitable[V]]) -> V:
        """One unbatched read (a root connection page or count) on its own connection."""
        async with connect(self.engine) as conn:
            return await read(conn)
