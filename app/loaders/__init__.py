"""Per-request DataLoaders. Build a new `Loaders` for every request, never share one.

Each batch opens its own pooled connection, so concurrent loaders never share a
connection or session (GraphQL resolves sibling fields concurrently).
"""

from app.loaders.registry import Loaders

__all__ = ["Loaders"]
