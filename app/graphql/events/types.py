"""Change events as GraphQL types: what subscriptions deliver.

Each is built from its event alone (`from_event`), whoever receives it: that is what
lets subscribers share one execution per event (app.graphql.events.sharing), keyed by
`event_position`. Keep it so: anything that depends on the viewer belongs in a resolver.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, cast

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


RecordT = TypeVar("RecordT")
# The broker hands one Event object to every subscriber: its record (immutable) is
# read from the snapshot once, not once per subscriber. By identity, held while kept.
_RECORDS: OrderedDict[int, tuple[Event, object]] = OrderedDict()
_KEEP_RECORDS = 256


def _snapshot(event: Event, read: Callable[[dict[str, Any]], RecordT]) -> RecordT:
    found = _RECORDS.get(id(event))
    if found is not None and found[0] is event:
        return cast(RecordT, found[1])
    record = read(event.data)
    _RECORDS[id(event)] = (event, record)
    if len(_RECORDS) > _KEEP_RECORDS:
        _RECORDS.popitem(last=False)
    return record


@strawberry.type(description="A change to an order.")
class OrderEvent:
    cursor: str = strawberry.field(description="Resume after this event with `after`.")
    type: EventType
    occurred_at: datetime
    changed_fields: list[str]
    node: Order = strawberry.field(description="The order as it is after the change.")
    event_position: strawberry.Private[int]

    @classmethod
    def from_event(cls, event: Event) -> OrderEvent:
        return cls(
            cursor=event_cursor(event.position),
            event_position=event.position,
            type=EventType(event.type),
            occurred_at=event.occurred_at,
            changed_fields=list(event.changed_fields),
            node=Order.from_record(_snapshot(event, snapshots.order)),
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
    event_position: strawberry.Private[int]

    @classmethod
    def from_event(cls, event: Event) -> ProductEvent:
        return cls(
            cursor=event_cursor(event.position),
            event_position=event.position,
            type=EventType(event.type),
            occurred_at=event.occurred_at,
            changed_fields=list(event.changed_fields),
            node=Product.from_record(_snapshot(event, snapshots.product)),
        )


@strawberry.type(description="A change to a user.")
class UserEvent:
    cursor: str = strawberry.field(description="Resume after this event with `after`.")
    type: EventType
    occurred_at: datetime
    changed_fields: list[str]
    node: User = strawberry.field(description="The user as it is after the change.")
    event_position: strawberry.Private[int]

    @classmethod
    def from_event(cls, event: Event) -> UserEvent:
        return cls(
            cursor=event_cursor(event.position),
            event_position=event.position,
            type=EventType(event.type),
            occurred_at=event.occurred_at,
            changed_fields=list(event.changed_fields),
            node=User.from_record(_snapshot(event, snapshots.user)),
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
