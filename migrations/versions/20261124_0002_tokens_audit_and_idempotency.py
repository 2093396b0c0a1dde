"""API tokens, the append-only audit trail, and placeOrder idempotency keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 22:33:54.399376
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The database itself refuses to rewrite history, whoever connects.
APPEND_ONLY = (
    """
    CREATE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()
    """,
    """
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse()
    """,
)


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("actor_kind", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("client_addr", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "actor_kind IN ('user', 'system', 'cli')", name=op.f("ck_audit_events_actor_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(
        "ix_audit_events_action_occurred_at_id",
        "audit_events",
        ["action", "occurred_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_audit_events_actor_id_occurred_at_id",
        "audit_events",
        ["actor_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_audit_events_entity_id_occurred_at_id",
        "audit_events",
        ["entity_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_audit_events_occurred_at_id", "audit_events", ["occurred_at", "id"], unique=False
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "order_requests",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_requests_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_order_requests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "idempotency_key", name=op.f("pk_order_requests")),
    )
    op.create_index("ix_order_requests_order_id", "order_requests", ["order_id"], unique=False)
    for statement in APPEND_ONLY:
        op.execute(statement)
    _number_order_lines()


def _number_order_lines() -> None:
    """Items keep the order they were given in: number existing lines by id."""
    op.add_column("order_items", sa.Column("line", sa.SmallInteger(), nullable=True))
    op.execute(
        """
        UPDATE order_items AS i SET line = n.line
        FROM (SELECT id, row_number() OVER (PARTITION BY order_id ORDER BY id) AS line
              FROM order_items) AS n
        WHERE i.id = n.id
        """
    )
    op.alter_column("order_items", "line", nullable=False)
    op.create_check_constraint(op.f("ck_order_items_line_positive"), "order_items", "line > 0")
    op.create_unique_constraint(
        op.f("uq_order_items_order_id_line"), "order_items", ["order_id", "line"]
    )
    op.drop_index("ix_order_items_order_id_id", table_name="order_items")


def downgrade() -> None:
    op.create_index("ix_order_items_order_id_id", "order_items", ["order_id", "id"])
    op.drop_constraint(op.f("uq_order_items_order_id_line"), "order_items")
    op.drop_constraint(op.f("ck_order_items_line_positive"), "order_items")
    op.drop_column("order_items", "line")
    op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
    op.execute("DROP FUNCTION audit_events_refuse()")
    op.drop_index("ix_order_requests_order_id", table_name="order_requests")
    op.drop_table("order_requests")
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_audit_events_occurred_at_id", table_name="audit_events")
    op.drop_index("ix_audit_events_entity_id_occurred_at_id", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_id_occurred_at_id", table_name="audit_events")
    op.drop_index("ix_audit_events_action_occurred_at_id", table_name="audit_events")
    op.drop_table("audit_events")
