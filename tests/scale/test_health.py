"""/healthz and /readyz in-process: each check named, 503 for the ones that matter."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.db import migrate
from tests.conftest import running_app
from tests.redis_server import free_port

VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


async def test_readyz_reports_postgres_migrations_and_redis(
    seeded_url: str, redis_url: str
) -> None:
    async with running_app(seeded_url, redis_url=redis_url) as api:
        response = await api.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"postgres": "ok", "migrations": "head", "redis": "ok", "draining": False},
    }


async def test_redis_down_is_reported_but_does_not_make_the_server_unready(
    seeded_url: str,
) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    async with running_app(seeded_url, redis_url=nobody, field_cache=False) as api:
        response = await api.client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "unavailable"


async def test_a_database_behind_the_migrations_head_is_not_ready(empty_url: str) -> None:
    await asyncio.to_thread(migrate.downgrade, empty_url, "-1")
    async with running_app(empty_url, as_admin=False) as api:
        response = await api.client.get("/readyz")
        healthy = await api.client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["postgres"] == "ok"
    # One step behind the newest migration (file names end in their number).
    numbers = sorted(path.name.split("_")[1] for path in VERSIONS.glob("*_*_*.py"))
    assert body["checks"]["migrations"].startswith(f"at {numbers[-2]}, head is {numbers[-1]}")
    assert healthy.status_code == 200


async def test_draining_fails_readyz_while_healthz_and_queries_still_answer(
    seeded_url: str,
) -> None:
    async with running_app(seeded_url) as api:
        await api.app.state.drain.run(delay=0)
        ready = await api.client.get("/readyz")
        alive = await api.client.get("/healthz")
        body = await api.query("{ products(first: 1) { edges { node { id } } } }")
    assert ready.status_code == 503
    assert ready.json()["status"] == "draining"
    assert ready.json()["checks"]["draining"] is True
    assert alive.json() == {"status": "ok"}
    assert body["data"]["products"]["edges"]
