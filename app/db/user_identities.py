"""External identities: an identity provider's (issuer, subject), bound to one user."""

from sqlalchemy import Column, DateTime, ForeignKey, Table, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID

from app.db.metadata import metadata

user_identities = Table(
    "user_identities",
    metadata,
    Column("issuer", Text, primary_key=True),
    Column("subject", Text, primary_key=True),
    Column(
        "user_id",
        UUID(as_uuid=True),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # The address the binding went by, for whoever later asks why this user.
    Column("email_at_binding", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # One identity per issuer per user (it also indexes the foreign key).
    UniqueConstraint("user_id", "issuer"),
)
