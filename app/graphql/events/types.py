"""Change events as GraphQL types: what subscriptions deliver."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import Enum

import strawberry

from app.errors import BadInput
from app.events import snapshots
from app.events.records import Event
from app.graphql.orders.types import Order, OrderStatus
from app.graphql.products.types import Product
from app.graphql.users.types import User


@strawberry.enum(description="What happened to the object.")
class EventType(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    STATUS_CHANGED = "STATUS_CHANGED"


def event_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"Event:{position}".encode()).decode()


def event_position(cursor: str) -> int:
    try:
        kind, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "Event" or not number.isdigit() or len(number) > 18:
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadInput(
            "`after` is not an event cursor; pass an event's `cursor` unchanged.", field="after"
        ) from None


@strawberry.type(description="A change to an order.")
class OrderEvent:
    cursor: str = strawberry.field(description="Resume after this event with `after`.")
    type: EventType
    occurred_at: datetime
    changed_fields: list[str]
    node: Order = strawberry.field(description="The order as it is after the change.")

    @classmethod
    def from_event(cls, event: Event) -> OrderEvent:
        return cls(
            cursor=event_cursor(event.position),
            type=EventType(event.type),
            occurred_at=event.occurred_at,
            changed_fields=list(event.changed_fields),
            node=Order.from_record(snapshots.order(event.data)),
        )


@strawberry.type(description="A change to a product (stock included).")
class ProductEvent:
    cursor: str = strawberry.field(description="Resume after this event with `after`.")
    type: EventType
    occurred_at: datetime
    changed_fields: list[str] = strawberry.field(
        description='"inStock" is among them when stock went to or from zero.'
    )
    node: Product = strawberry.field(description="The product as it is after the change.")

    @classmethod
    def from_event(cls, event: Event) -> ProductEvent:
        return cls(
            cursor=event_cursor(event.position),
            type=EventType(event.type),
            occurred_at=event.occurred_at,
            changed_fields=list(event.changed_fields),
            node=Product.from_record(snapshots.product(event.data)),
        )


@strawberry.type(description="A change to a user.")
class UserEvent:
    cursor: str = strawberry.field(description="Resume after this event with `after`.")
    type: EventType
    occurred_at: datetime
    changed_fields: list[str]
    node: User = strawberry.field(description="The user as it is after the change.")

    @classmethod
    def from_event(cls, event: Event) -> UserEvent:
        return cls(
            cursor=event_cursor(event.position),
            type=EventType(event.type),
            occurred_at=event.occurred_at,
            changed_fields=list(event.changed_fields),
            node=User.from_record(snapshots.user(event.data)),
        )


@strawberry.input(description="Which order events to receive; all given conditions hold.")
class OrderEventFilter:
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="Orders of this user (admins; users only see their own)."
    )
    status: list[OrderStatus] | None = strawberry.field(
        default=None, description="Orders whose status (after the change) is one of these."
    )


@strawberry.input(description="Which product events to receive; all given conditions hold.")
class ProductEventFilter:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only these products."
    )
    in_stock_changed: bool | None = strawberry.field(
        default=None, description="true: only changes that took stock to or from zero."
    )
