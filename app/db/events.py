"""The outbox and the event log behind subscriptions.

A mutation writes what changed to `outbox` in its own transaction. The relay moves
committed rows to `events`, numbering them with a gapless `position` in one sequence
(relays take turns under an advisory lock), and publishes them. `position` is the
subscription cursor: replays read `events` by position, so nothing is missed.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from app.db.metadata import metadata


def _event_columns() -> list[Column[object]]:
    return [
        Column("topic", Text, nullable=False),  # order | product | user
        Column("type", Text, nullable=False),  # CREATED | UPDATED | DELETED | STATUS_CHANGED
        Column("entity_id", UUID(as_uuid=True), nullable=False),
        # Whose data this is (an order's user; a user themself); null for the catalog.
        Column("owner_id", UUID(as_uuid=True)),
        Column("changed_fields", ARRAY(Text), nullable=False, server_default=text("'{}'")),
        # The object as it is after the change.
        Column("data", JSONB, nullable=False),
        Column(
            "occurred_at",
            DateTime(timezone=True),
            nullable=False,
            server_default=text("clock_timestamp()"),
        ),
    ]


outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    *_event_columns(),
)

events = Table(
    "events",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    *_event_columns(),
    Index("ix_events_occurred_at", "occurred_at"),
    Index("ix_events_topic_position", "topic", "position"),
)
