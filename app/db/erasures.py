"""The erasure ledger: which users were erased, and when; nothing else about them."""

from sqlalchemy import Column, DateTime, Table, text
from sqlalchemy.dialects.postgresql import UUID

from app.db.metadata import metadata

# No foreign key: the ledger outlives the data it speaks of (restore reads it from the
# live database and re-applies what an older backup would bring back).
erased_users = Table(
    "erased_users",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column(
        "erased_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("clock_timestamp()"),
    ),
)
