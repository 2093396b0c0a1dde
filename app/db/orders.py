"""The orders aggregate: orders and their items."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

from app.db.columns import id_column, timestamp_columns, version_column
from app.db.metadata import metadata

ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled")

orders = Table(
    "orders",
    metadata,
    id_column(),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    Column(
        "status",
        Enum(*ORDER_STATUSES, name="order_status"),
        nullable=False,
        server_default="pending",
    ),
    Column("total", Numeric(12, 2), nullable=False, server_default="0"),
    *timestamp_columns(),
    version_column(),
    CheckConstraint("total >= 0", name="total_non_negative"),
    # A user's orders page newest first (and, scanned backwards, oldest first).
    Index("ix_orders_user_id_created_at_id", "user_id", text("created_at DESC"), text("id DESC")),
    Index("ix_orders_user_id_total_id", "user_id", "total", "id"),
    Index("ix_orders_created_at_id", "created_at", "id"),
    Index("ix_orders_total_id", "total", "id"),
    Index("ix_orders_status_created_at_id", "status", "created_at", "id"),
)

order_items = Table(
    "order_items",
    metadata,
    id_column(),
    Column(
        "order_id",
        UUID(as_uuid=True),
        ForeignKey("orders.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("product_id", UUID(as_uuid=True), ForeignKey("products.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Numeric(10, 2), nullable=False),
    # 1, 2, 3... in the order the lines were given: items read back in that order.
    Column("line", SmallInteger, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
    CheckConstraint("line > 0", name="line_positive"),
    UniqueConstraint("order_id", "line"),
    Index("ix_order_items_product_id", "product_id"),
)

# placeOrder's idempotency keys: a retry with the same key returns the first order.
order_requests = Table(
    "order_requests",
    metadata,
    Column(
        "user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    Column("idempotency_key", Text, nullable=False),
    # SHA-256 of the normalised request: the same key with other items is refused.
    Column("request_hash", LargeBinary, nullable=False),
    Column(
        "order_id", UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
    ),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    PrimaryKeyConstraint("user_id", "idempotency_key"),
    Index("ix_order_requests_order_id", "order_id"),
    # Retention finds the old ones without reading the whole table.
    Index("ix_order_requests_created_at", "created_at"),
)
