"""Signed links: the server's signing key, and which links have been used."""

from sqlalchemy import Column, DateTime, Index, LargeBinary, Table, Text, text

from app.db.metadata import metadata

# One random key per name, made by whichever instance needs it first (when SIGNING_SECRET
# is not set): every instance on the database signs and verifies with the same key.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("name", Text, primary_key=True),
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)

# A single-use link's nonce, written when it is redeemed: the primary key makes a second
# redemption fail on every instance. Rows are dropped once the link has expired anyway.
signed_link_uses = Table(
    "signed_link_uses",
    metadata,
    Column("nonce", LargeBinary, primary_key=True),
    Column("purpose", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index("ix_signed_link_uses_expires_at", "expires_at"),
)
