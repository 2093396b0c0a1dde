"""Every table, imported once so the metadata is complete (Alembic and tests use it)."""

from app.db.audit import audit_events
from app.db.erasures import erased_users
from app.db.events import events, outbox
from app.db.identity import api_tokens
from app.db.metadata import metadata
from app.db.orders import order_items, order_requests, orders
from app.db.products import products
from app.db.signed_links import signed_link_uses, signing_keys
from app.db.user_identities import user_identities
from app.db.users import users
from app.db.webhooks import webhook_deliveries, webhooks

__all__ = [
    "api_tokens",
    "audit_events",
    "erased_users",
    "events",
    "metadata",
    "order_items",
    "order_requests",
    "orders",
    "outbox",
    "products",
    "signed_link_uses",
    "signing_keys",
    "user_identities",
    "users",
    "webhook_deliveries",
    "webhooks",
]
