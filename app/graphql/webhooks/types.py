"""Webhooks and their deliveries as GraphQL objects. The secret appears only in the
payloads of createWebhook and rotateWebhookSecret."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import Enum

import strawberry

from app.graphql.context import Info
from app.graphql.events.types import event_cursor
from app.graphql.orders.types import OrderStatus
from app.graphql.relay import Node, from_global_id, to_global_id
from app.webhooks.records import DeliveryRecord, WebhookRecord
from app.webhooks.topics import Filter


@strawberry.enum(
    description="An event an endpoint can receive; the payload's `type` is its value "
    "(ORDER_STATUS_CHANGED: order.status_changed)."
)
class WebhookEventType(Enum):
    ORDER_CREATED = "order.created"
    ORDER_UPDATED = "order.updated"
    ORDER_STATUS_CHANGED = "order.status_changed"
    ORDER_DELETED = "order.deleted"
    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"
    PRODUCT_DELETED = "product.deleted"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DELETED = "user.deleted"


@strawberry.enum(description="Whether an endpoint receives messages.")
class WebhookState(Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    DISABLED = "disabled"


@strawberry.enum(description="The endpoint's circuit breaker.")
class WebhookBreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@strawberry.enum(description="Where a message stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@strawberry.input(description="Conditions on top of the event types; all given ones hold.")
class WebhookFilterInput:
    entity_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only events about these objects (orders, products, users)."
    )
    statuses: list[OrderStatus] | None = strawberry.field(
        default=None, description="Order events whose status after the change is one of these."
    )

    def to_filter(self) -> Filter:
        return Filter(
            entity_ids=tuple(
                from_global_id(value, argument="filter.entityIds")[1] for value in self.entity_ids
            )
            if self.entity_ids is not None
            else None,
            statuses=tuple(status.value for status in self.statuses)
            if self.statuses is not None
            else None,
        )


@strawberry.type(description="An endpoint's filter, as registered.")
class WebhookFilter:
    entity_ids: list[str] | None = strawberry.field(
        description="The objects' primary keys (UUIDs) from the IDs given."
    )
    statuses: list[str] | None


@strawberry.type(description="An endpoint that receives signed change events over HTTP.")
class Webhook(Node):
    pk: strawberry.Private[uuid.UUID]
    url: str
    events: list[WebhookEventType]
    filter: WebhookFilter
    query: str | None = strawberry.field(description="The payload document, if any.")
    state: WebhookState
    disabled_reason: str | None
    failing_since: datetime | None = strawberry.field(
        description="Since when every attempt failed; null once one succeeds."
    )
    consecutive_failures: int
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="Until then the previous secret signs too (after a rotation)."
    )
    cursor: str | None = strawberry.field(
        description="The last event taken into this endpoint's queue (replayWebhook `after`)."
    )
    created_at: datetime
    updated_at: datetime
    breaker_until: strawberry.Private[datetime | None]

    @strawberry.field(description="OPEN: no attempts until the breaker's time is up.")
    def breaker_state(self, info: Info) -> WebhookBreakerState:
        if self.consecutive_failures < info.context.settings.webhook_breaker_failures:
            return WebhookBreakerState.CLOSED
        if self.breaker_until is not None and self.breaker_until > datetime.now(UTC):
            return WebhookBreakerState.OPEN
        return WebhookBreakerState.HALF_OPEN

    @classmethod
    def from_record(cls, record: WebhookRecord) -> Webhook:
        entity_ids = record.filter.get("entity_ids")
        return cls(
            pk=record.id,
            url=record.url,
            events=[WebhookEventType(name) for name in record.events],
            filter=WebhookFilter(
                entity_ids=list(entity_ids) if entity_ids is not None else None,
                statuses=record.filter.get("statuses"),
            ),
            query=record.query,
            state=WebhookState(record.state),
            disabled_reason=record.disabled_reason,
            failing_since=record.failing_since,
            consecutive_failures=record.consecutive_failures,
            previous_secret_expires_at=record.previous_secret_expires_at,
            cursor=event_cursor(record.cursor) if record.cursor else None,
            created_at=record.created_at,
            updated_at=record.updated_at,
            breaker_until=record.breaker_until,
        )


@strawberry.type(description="One message to an endpoint: its attempts and the last answer.")
class WebhookDelivery(Node):
    pk: strawberry.Private[uuid.UUID]
    webhook_id: strawberry.ID
    message_id: str = strawberry.field(
        description="The `webhook-id` header: the same on every attempt and redelivery."
    )
    event_type: str
    event_cursor: str | None = strawberry.field(description="The event's cursor; null: a ping.")
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    response_snippet: str | None = strawberry.field(
        description="The start of the last answer (WEBHOOK_RESPONSE_BYTES)."
    )
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def from_record(cls, record: DeliveryRecord) -> WebhookDelivery:
        return cls(
            pk=record.id,
            webhook_id=to_global_id("Webhook", record.webhook_id),
            message_id=record.message_id,
            event_type=record.event_type,
            event_cursor=event_cursor(record.event_position)
            if record.event_position is not None
            else None,
            status=WebhookDeliveryStatus(record.status),
            attempts=record.attempts,
            next_attempt_at=record.next_attempt_at,
            last_attempt_at=record.last_attempt_at,
            last_status_code=record.last_status_code,
            last_latency_ms=record.last_latency_ms,
            last_error=record.last_error,
            response_snippet=record.response_snippet,
            delivered_at=record.delivered_at,
            created_at=record.created_at,
        )
