"""Growing past one machine: health checks, graceful shutdown, read replicas, PgBouncer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_server import find_redis


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with find_redis() as url:
        yield url
