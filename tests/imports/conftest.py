"""The two-server cluster of the subscription tests, for the upload clients."""

from tests.events.conftest import cluster, redis_url

__all__ = ["cluster", "redis_url"]
