"""The Order and OrderItem types and their filter and ordering inputs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.audit.fields import history_field
from app.graphql.context import Info
from app.graphql.cost import ListSize
from app.graphql.execution import read_from
from app.graphql.inputs import DateTimeRange, MoneyRange
from app.graphql.products.types import Product
from app.graphql.relay import (
    Node,
    SortDirection,
    pk_of,
)
from app.graphql.scalars import Money
from app.queries.orders import OrderItemRecord, OrderRecord, OrderWhere

# Lines an order is assumed to have, for its cost: most have a few, none more than 100
# (app.services.orders.MAX_LINES); the cost is an estimate, not a bound.
ITEMS_ASSUMED = 10

if TYPE_CHECKING:
    from app.graphql.users.types import User


@strawberry.enum(description="Where an order is in its life.")
class OrderStatus(Enum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


@strawberry.type(description="One line of an order: a product, how many, at what price.")
class OrderItem(Node):
    pk: strawberry.Private[uuid.UUID]
    product_pk: strawberry.Private[uuid.UUID]
    quantity: int
    unit_price: Money = strawberry.field(
        description="The product's price when the order was placed."
    )
    prefetched_product: strawberry.Private[Product | None] = None

    @classmethod
    def from_record(cls, record: OrderItemRecord) -> OrderItem:
        return cls(
            pk=record.id,
            product_pk=record.product_id,
            quantity=record.quantity,
            unit_price=Money(record.unit_price),
        )

    @strawberry.field(description="The product ordered.", metadata=read_from("prefetched_product"))
    def product(self, info: Info) -> Product:
        if self.prefetched_product is not None:
            return self.prefetched_product
        return self._load_product(info)  # type: ignore[return-value]

    async def _load_product(self, info: Info) -> Product:
        record = await info.context.loaders.product_by_id.load(self.product_pk)
        # An item's product is a foreign key: it always exists.
        assert record is not None
        return Product.from_record(record)


@strawberry.type(description="An order placed by a user.")
class Order(Node):
    pk: strawberry.Private[uuid.UUID]
    user_pk: strawberry.Private[uuid.UUID]
    status: OrderStatus
    total: Money
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Send as expectedVersion when you update.")
    prefetched_items: strawberry.Private[list[OrderItem] | None] = None

    @classmethod
    def from_record(cls, record: OrderRecord) -> Order:
        return cls(
            pk=record.id,
            user_pk=record.user_id,
            status=OrderStatus(record.status),
            total=Money(record.total),
            created_at=record.created_at,
            updated_at=record.updated_at,
            version=record.version,
        )

    history = history_field("order")

    @strawberry.field(description="Who placed the order.")
    async def user(self, info: Info) -> Annotated[User, strawberry.lazy("app.graphql.users.types")]:
        from app.graphql.users.types import User

        record = await info.context.loaders.user_by_id.load(self.user_pk)
        assert record is not None
        return User.from_record(record)

    @strawberry.field(
        description="The order's lines, in the order they were added.",
        metadata=read_from("prefetched_items"),
        directives=[ListSize(assumed_size=ITEMS_ASSUMED)],
    )
    def items(self, info: Info) -> list[OrderItem]:
        if self.prefetched_items is not None:
            return self.prefetched_items
        return self._load_items(info)  # type: ignore[return-value]

    @strawberry.field(description="Units in the order: the sum of its items' quantities.")
    def item_count(self, info: Info) -> int:
        if self.prefetched_items is not None:
            return sum(item.quantity for item in self.prefetched_items)
        return self._count_units(info)  # type: ignore[return-value]

    async def _load_items(self, info: Info) -> list[OrderItem]:
        records = await info.context.loaders.items_by_order_id.load(self.pk)
        return [OrderItem.from_record(record) for record in records]

    async def _count_units(self, info: Info) -> int:
        records = await info.context.loaders.items_by_order_id.load(self.pk)
        return sum(record.quantity for record in records)


@strawberry.enum(description="Fields an orders connection can be ordered by.")
class OrderSortField(Enum):
    CREATED_AT = "created_at"
    TOTAL = "total"


@strawberry.input(description="How to order orders; ties are broken by id.")
class OrderSort:
    field: OrderSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Narrows an orders connection; all given conditions must hold.")
class OrderFilter:
    status: list[OrderStatus] | None = strawberry.field(
        default=None, description="Any of these statuses."
    )
    user_id: strawberry.ID | None = strawberry.field(default=None, description="A User ID.")
    created_at: DateTimeRange | None = None
    total: MoneyRange | None = None

    def to_query(self) -> OrderWhere:
        return OrderWhere(
            statuses=tuple(status.value for status in self.status)
            if self.status is not None
            else None,
            user_id=pk_of(self.user_id, "User", argument="filter.userId")
            if self.user_id is not None
            else None,
            created_at=self.created_at.to_query(field="filter.createdAt")
            if self.created_at
            else None,
            total=self.total.to_query(field="filter.total") if self.total else None,
        )
