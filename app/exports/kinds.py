"""What can be exported: each kind's fields (named and shaped as in its GraphQL type),
its connection's filter and orderBy, its visibility, and how a batch is read.

A batch is one keyset window (app.queries.keyset): `(sort value, id) > last position`,
ordered and limited, so a walk reads each row once with a statement an index answers,
and holds a pooled connection only while one batch is read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.viewer import Viewer
from app.db.orders import order_items, orders
from app.db.products import products
from app.db.users import users
from app.graphql.orders.queries import DEFAULT_ORDER, visible_orders
from app.graphql.orders.types import OrderFilter, OrderSort, OrderStatus
from app.graphql.products.queries import DEFAULT_ORDER as PRODUCT_ORDER
from app.graphql.products.types import ProductFilter, ProductSort
from app.graphql.relay import to_global_id
from app.graphql.users.queries import DEFAULT_ORDER as USER_ORDER
from app.graphql.users.queries import visible_users
from app.graphql.users.types import Role, UserFilter, UserSort
from app.queries import orders as order_queries
from app.queries import products as product_queries
from app.queries import users as user_queries
from app.queries.filters import one_of
from app.queries.keyset import Ordering, Position, SortKey, Window, apply_window

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Field:
    """One exported field. `name` is the GraphQL field, dotted for a nested object's
    (`user.id` is `user { id }`); `convert` makes the API's value from the column's."""

    name: str
    column: ColumnElement[Any]
    convert: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Batch:
    rows: list[list[Any]]
    """API values, one list per row, in `Kind.fields` order."""
    last: Position | None
    """Where the next batch starts; None: this was the last."""


def global_id(type_name: str) -> Callable[[Any], str]:
    return lambda pk: to_global_id(type_name, pk)


def money(value: Decimal) -> Decimal:
    """Kept a Decimal (CSV writes it as a number); JSON writes it as the Money scalar."""
    return value.quantize(_CENT)


def iso(value: Any) -> str:
    return str(value.isoformat())


def enum_name(enum: type[Enum]) -> Callable[[Any], str]:
    names = {member.value: member.name for member in enum}
    return names.__getitem__


def same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Listing:
    """What an export shares with its GraphQL connection: the inputs of `filter` and
    `orderBy`, the sort keys and the order without orderBy, how the query layer turns a
    filter into conditions, and who sees what."""

    filter_input: type[Any]
    order_input: type[Any]
    sort_keys: dict[str, SortKey]
    default_order: Ordering
    conditions: Callable[[Any], list[ColumnElement[bool]]]
    restrict: Callable[[Viewer, Any], Any]
    """Narrows the filter to what the viewer may read, or raises (as the connection)."""

    @classmethod
    def of(
        cls,
        filter_input: type[Any],
        order_input: type[Any],
        queries: Queries,
        default_order: Ordering,
        restrict: Callable[[Viewer, Any], Any],
    ) -> Listing:
        """The listing of a query module (app.queries.<entity>)."""
        return cls(
            filter_input,
            order_input,
            queries.SORT_KEYS,
            default_order,
            queries.conditions,
            restrict,
        )


class Queries(Protocol):
    """What an app.queries module offers a listing."""

    SORT_KEYS: dict[str, SortKey]

    def conditions(self, where: Any, /) -> list[ColumnElement[bool]]: ...


@dataclass(frozen=True, slots=True)
class Kind:
    """An exportable list: `/export/<name>.<format>`."""

    name: str
    table: Table
    fields: tuple[Field, ...]
    listing: Listing
    lines_of: Table | None = None
    """For a kind whose rows are the children of the walked table (order lines)."""

    @property
    def headers(self) -> list[str]:
        return [field.name for field in self.fields]

    async def batch(
        self, conn: AsyncConnection, *, where: Sequence[ColumnElement[bool]], window: Window
    ) -> Batch:
        sort = self.table.c[window.ordering.key.column]
        if self.lines_of is not None:
            stmt = select(self.table.c.id, sort).where(*where)
            keys = (await conn.execute(apply_window(stmt, self.table, window))).all()
            rows = await self._lines([key[0] for key in keys[: window.size]], conn)
        else:
            stmt = select(self.table.c.id, sort, *(field.column for field in self.fields))
            keys = (await conn.execute(apply_window(stmt.where(*where), self.table, window))).all()
            rows = [self._values(row[2:]) for row in keys[: window.size]]
        if len(keys) <= window.size:
            return Batch(rows, None)
        last = keys[window.size - 1]
        return Batch(rows, Position(last[1], last[0]))

    def _values(self, row: Sequence[Any]) -> list[Any]:
        return [field.convert(value) for field, value in zip(self.fields, row, strict=True)]

    async def _lines(self, parent_ids: list[Any], conn: AsyncConnection) -> list[list[Any]]:
        if not parent_ids:
            return []
        assert self.lines_of is not None
        parent = self.lines_of.c.order_id
        stmt = (
            select(parent, *(field.column for field in self.fields))
            .select_from(self.lines_of.join(products))
            .where(one_of(parent, parent_ids))
        )
        grouped: dict[Any, list[list[Any]]] = {pk: [] for pk in parent_ids}
        for row in await conn.execute(stmt.order_by(parent, self.lines_of.c.line)):
            grouped[row[0]].append(self._values(row[1:]))
        return [line for pk in parent_ids for line in grouped[pk]]


def _timestamps(table: Table) -> tuple[Field, ...]:
    return (
        Field("createdAt", table.c.created_at, iso),
        Field("updatedAt", table.c.updated_at, iso),
        Field("version", table.c.version, same),
    )


def _everyone(viewer: Viewer, where: Any) -> Any:
    return where


ORDERS = Listing.of(OrderFilter, OrderSort, order_queries, DEFAULT_ORDER, visible_orders)
USERS = Listing.of(UserFilter, UserSort, user_queries, USER_ORDER, visible_users)
PRODUCTS = Listing.of(ProductFilter, ProductSort, product_queries, PRODUCT_ORDER, _everyone)

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            name="orders",
            table=orders,
            fields=(
                Field("id", orders.c.id, global_id("Order")),
                Field("user.id", orders.c.user_id, global_id("User")),
                Field("status", orders.c.status, enum_name(OrderStatus)),
                Field("total", orders.c.total, money),
                *_timestamps(orders),
            ),
            listing=ORDERS,
        ),
        Kind(
            # The lines of the orders that the same filter and orderBy select, in that
            # order, each order's lines in the order they were added.
            name="order-lines",
            table=orders,
            fields=(
                Field("order.id", order_items.c.order_id, global_id("Order")),
                Field("id", order_items.c.id, global_id("OrderItem")),
                Field("product.id", order_items.c.product_id, global_id("Product")),
                Field("product.sku", products.c.sku, same),
                Field("product.name", products.c.name, same),
                Field("quantity", order_items.c.quantity, same),
                Field("unitPrice", order_items.c.unit_price, money),
            ),
            lines_of=order_items,
            listing=ORDERS,
        ),
        Kind(
            name="users",
            table=users,
            fields=(
                Field("id", users.c.id, global_id("User")),
                Field("email", users.c.email, same),
                Field("name", users.c.name, same),
                Field("role", users.c.role, enum_name(Role)),
                *_timestamps(users),
            ),
            listing=USERS,
        ),
        Kind(
            name="products",
            table=products,
            fields=(
                Field("id", products.c.id, global_id("Product")),
                Field("sku", products.c.sku, same),
                Field("name", products.c.name, same),
                Field("description", products.c.description, same),
                Field("price", products.c.price, money),
                Field("stock", products.c.stock, same),
                *_timestamps(products),
            ),
            listing=PRODUCTS,
        ),
    )
}
