"""JWT identities bound by (issuer, subject), and which users' emails ordergraph trusts.

Existing emails count as trusted (an admin or the seed set them), except where the audit
trail shows that the user last changed their own: such an address may be someone else's,
and binding it is exactly the takeover this revision closes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        """
        UPDATE users AS u SET email_verified_at = u.updated_at
        WHERE NOT EXISTS (
          SELECT 1 FROM (
            SELECT DISTINCT ON (a.entity_id) a.actor_kind, a.actor_id
            FROM audit_events a
            WHERE a.entity_id = u.id AND a.action = 'user.updated' AND a.changes ? 'email'
            ORDER BY a.entity_id, a.occurred_at DESC, a.id DESC
          ) AS last_change
          WHERE last_change.actor_kind = 'user' AND last_change.actor_id = u.id
        )
        """
    )
    op.create_table(
        "user_identities",
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("email_at_binding", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("issuer", "subject", name=op.f("pk_user_identities")),
        sa.UniqueConstraint("user_id", "issuer", name=op.f("uq_user_identities_user_id_issuer")),
    )


def downgrade() -> None:
    op.drop_table("user_identities")
    op.drop_column("users", "email_verified_at")
