"""The users table."""

from sqlalchemy import CheckConstraint, Column, DateTime, Enum, Index, Table, Text

from app.db.columns import id_column, timestamp_columns, version_column
from app.db.metadata import metadata

ROLES = ("user", "admin")

users = Table(
    "users",
    metadata,
    id_column(),
    Column("email", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("role", Enum(*ROLES, name="user_role"), nullable=False, server_default="user"),
    # When ordergraph last had reason to trust `email` (an admin set it, or the seed did);
    # null once a user set it themselves. Only a trusted address binds a JWT identity.
    Column("email_verified_at", DateTime(timezone=True)),
    *timestamp_columns(),
    version_column(),
    CheckConstraint("email = lower(email)", name="email_lowercase"),
    CheckConstraint("char_length(name) between 1 and 100", name="name_length"),
    Index("ix_users_created_at_id", "created_at", "id"),
    Index("ix_users_email_id", "email", "id"),
    Index("ix_users_name_id", "name", "id"),
)
