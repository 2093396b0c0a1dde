"""The products table, with a generated full-text search vector."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR

from app.db.columns import id_column, timestamp_columns, version_column
from app.db.metadata import metadata

# One text-search configuration for the generated column and for queries, so the
# GIN index is used: a query with another configuration could not match it.
SEARCH_CONFIG = "english"

products = Table(
    "products",
    metadata,
    id_column(),
    Column("sku", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("price", Numeric(10, 2), nullable=False),
    Column("stock", Integer, nullable=False, server_default="0"),
    *timestamp_columns(),
    version_column(),
    Column(
        "search_vector",
        TSVECTOR,
        Computed(
            f"setweight(to_tsvector('{SEARCH_CONFIG}', name), 'A') || "
            f"setweight(to_tsvector('{SEARCH_CONFIG}', description), 'B')",
            persisted=True,
        ),
        nullable=False,
    ),
    CheckConstraint("price >= 0", name="price_non_negative"),
    CheckConstraint("stock >= 0", name="stock_non_negative"),
    CheckConstraint("char_length(name) between 1 and 200", name="name_length"),
    CheckConstraint("sku ~ '^[A-Z0-9][A-Z0-9-]{1,39}$'", name="sku_format"),
    Index("ix_products_created_at_id", "created_at", "id"),
    Index("ix_products_name_id", "name", "id"),
    Index("ix_products_price_id", "price", "id"),
    Index("ix_products_sku_id", "sku", "id"),
    Index("ix_products_search_vector", "search_vector", postgresql_using="gin"),
)
