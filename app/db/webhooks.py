"""Webhook endpoints and their deliveries.

An endpoint's `cursor` is the last event-log position it has taken into its queue; the
queue is `webhook_deliveries`, one row per message, delivered in `seq` order. Whoever
works an endpoint holds its lease (`claimed_by`, `claimed_until`): one instance at a
time, so messages go out in order and never twice at once; a lease that runs out (the
instance died) lets another take over and send the unfinished message again.
"""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from app.db.columns import id_column, timestamp_columns
from app.db.metadata import metadata

NOW = text("now()")

webhooks = Table(
    "webhooks",
    metadata,
    id_column(),
    Column(
        "owner_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    Column("url", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    Column("filter", JSONB, nullable=False, server_default=text("'{}'")),
    Column("query", Text),
    Column("secret", Text, nullable=False),
    # After a rotation the old secret signs too, until previous_secret_expires_at.
    Column("previous_secret", Text),
    Column("previous_secret_expires_at", DateTime(timezone=True)),
    Column("state", Text, nullable=False, server_default="active"),
    Column("disabled_reason", Text),
    # Since when every attempt failed (null while the last one succeeded).
    Column("failing_since", DateTime(timezone=True)),
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    # The circuit breaker: open until this moment, then one trial attempt.
    Column("breaker_until", DateTime(timezone=True)),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("cursor", BigInteger, nullable=False),
    Column("claimed_by", Text),
    Column("claimed_until", DateTime(timezone=True)),
    *timestamp_columns(),
    CheckConstraint("state IN ('active', 'paused', 'disabled')", name="state"),
    Index("ix_webhooks_owner_id", "owner_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    id_column(),
    Column("seq", BigInteger, Identity(always=False), nullable=False, unique=True),
    Column(
        "webhook_id",
        UUID(as_uuid=True),
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # The Standard Webhooks `webhook-id`: the same on every attempt and redelivery.
    Column("message_id", Text, nullable=False),
    Column("event_position", BigInteger),  # null for a ping
    Column("event_type", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_status_code", Integer),
    Column("last_latency_ms", Integer),
    Column("last_error", Text),
    Column("response_snippet", Text),
    Column("claimed_by", Text),
    Column("claimed_until", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    # clock_timestamp: the rows one statement queues keep their order in the log.
    Column(
        "created_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("clock_timestamp()"),
    ),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    Index(
        "ix_webhook_deliveries_pending",
        "webhook_id",
        "seq",
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_webhook_deliveries_webhook_id_created_at", "webhook_id", "created_at", "id"),
    Index("ix_webhook_deliveries_created_at", "created_at"),
)
