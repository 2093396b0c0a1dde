"""Fixtures of the read plan tests: the events tests' Redis, for real server processes."""

from tests.events.conftest import redis_url

__all__ = ["redis_url"]
