"""Column factories shared by every aggregate's table."""

from sqlalchemy import BigInteger, Column, DateTime, text
from sqlalchemy.dialects.postgresql import UUID


def id_column() -> Column[object]:
    return Column(
        "id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def timestamp_columns() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    ]


def version_column() -> Column[object]:
    """Optimistic-locking version, bumped by every update."""
    return Column("version", BigInteger, nullable=False, server_default=text("1"))
