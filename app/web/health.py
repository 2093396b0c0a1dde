"""/healthz and /readyz: is the process alive, and should a load balancer send it work.

/readyz answers 200 only while PostgreSQL answers, its schema is at the migrations'
head, and the server is not draining (graceful shutdown, app.web.draining); anything
else is 503 with the failing check named. Redis and the read replicas are reported,
not required: without Redis events still reach every instance through PostgreSQL and
the cache computes its values, and a replica that is down is skipped.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as redis
from alembic.script import ScriptDirectory
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.db.engine import connect
from app.db.migrate import alembic_config
from app.errors import ServiceUnavailable
from app.web.draining import Drain

REDIS_TIMEOUT_SECONDS = 1.0


class Readiness:
    """What /readyz checks, with the clients it checks them through."""

    def __init__(self, *, reader: AsyncEngine, drain: Drain, redis_url: str | None) -> None:
        self.reader = reader
        self.drain = drain
        self.redis = (
            redis.from_url(
                redis_url,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
            )
            if redis_url
            else None
        )
        self.heads = frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())

    async def check(self) -> tuple[bool, dict[str, Any]]:
        postgres, migrations = await self._postgres()
        checks: dict[str, Any] = {
            "postgres": postgres,
            "migrations": migrations,
            "redis": await self._redis(),
            "draining": self.drain.draining,
        }
        ready = postgres == "ok" and migrations == "head" and not self.drain.draining
        return ready, checks

    async def _postgres(self) -> tuple[str, str]:
        try:
            async with connect(self.reader) as conn:
                rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        except ServiceUnavailable:
            return "unavailable", "unknown"
        at = frozenset(row[0] for row in rows)
        if at == self.heads:
            return "ok", "head"
        return (
            "ok",
            f"at {', '.join(sorted(at)) or 'none'}, head is {', '.join(sorted(self.heads))}",
        )

    async def _redis(self) -> str:
        if self.redis is None:
            return "not configured"
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS * 2):
                await self.redis.ping()
        except (RedisError, OSError, TimeoutError):
            return "unavailable"
        return "ok"

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


async def healthz(request: Request) -> JSONResponse:
    """Liveness: the process answers (even while draining: it is not to be restarted)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 with every check, or 503 naming why not."""
    state = request.app.state
    readiness: Readiness = state.readiness
    ready, checks = await readiness.check()
    replicas = getattr(state, "replicas", None)
    if replicas is not None:
        checks["replicas"] = [stat.as_json() for stat in replicas.stats()]
    if ready:
        return JSONResponse({"status": "ok", "checks": checks})
    status = "draining" if checks["draining"] else "unavailable"
    return JSONResponse({"status": status, "checks": checks}, status_code=503)
