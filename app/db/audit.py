"""The append-only audit trail: who changed what, when, from where."""

from sqlalchemy import CheckConstraint, Column, DateTime, Index, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from app.db.columns import id_column
from app.db.metadata import metadata

ACTOR_KINDS = ("user", "system", "cli")

audit_events = Table(
    "audit_events",
    metadata,
    id_column(),
    # clock_timestamp, not now(): events of one transaction keep their order.
    Column(
        "occurred_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("clock_timestamp()"),
    ),
    Column("actor_id", UUID(as_uuid=True)),
    Column("actor_kind", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("entity_type", Text, nullable=False),
    Column("entity_id", UUID(as_uuid=True), nullable=False),
    # {"field": {"before": ..., "after": ...}}; never a secret.
    Column("changes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("request_id", Text),
    Column("client_addr", Text),
    Column("user_agent", Text),
    CheckConstraint(f"actor_kind IN {ACTOR_KINDS}", name="actor_kind"),
    Index("ix_audit_events_entity_id_occurred_at_id", "entity_id", "occurred_at", "id"),
    Index("ix_audit_events_actor_id_occurred_at_id", "actor_id", "occurred_at", "id"),
    Index("ix_audit_events_occurred_at_id", "occurred_at", "id"),
    Index("ix_audit_events_action_occurred_at_id", "action", "occurred_at", "id"),
)
