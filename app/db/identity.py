"""API tokens: random bearer secrets, stored only as a hash."""

from sqlalchemy import Column, DateTime, ForeignKey, Index, LargeBinary, Table, Text, text
from sqlalchemy.dialects.postgresql import UUID

from app.db.columns import id_column
from app.db.metadata import metadata

api_tokens = Table(
    "api_tokens",
    metadata,
    id_column(),
    Column(
        "user_id",
        UUID(as_uuid=True),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", Text, nullable=False),
    # SHA-256 of the token. Tokens are 256 random bits, so a fast hash is enough:
    # there is nothing to brute-force, unlike a password.
    Column("token_hash", LargeBinary, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("last_used_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_api_tokens_user_id", "user_id"),
)
