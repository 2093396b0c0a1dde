"""Every table, imported once so the metadata is complete (Alembic and tests use it)."""

from app.db.metadata import metadata
from app.db.orders import order_items, orders
from app.db.products import products
from app.db.users import users

__all__ = ["metadata", "order_items", "orders", "products", "users"]
