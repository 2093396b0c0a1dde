"""Statements slower than SLOW_QUERY_MS: logged with their operation and their plan.

The plan is `EXPLAIN (FORMAT JSON)` of the very statement text and parameters, asked on a
connection of its own (never the one whose transaction the statement was part of), at
most SLOW_QUERY_PLANS_PER_MINUTE times a minute per worker, and only for a plain SELECT:
EXPLAIN without ANALYZE does not run the statement, but a statement that writes or locks
is not worth the risk of a mistake here. Parameters are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.observability.scope import operation_name

log = logging.getLogger("ordergraph.slow_query")

_WRITES = re.compile(
    r"\b(insert|update|delete|merge|truncate|nextval|setval|pg_advisory\w*|for\s+(no\s+key\s+)?"
    r"(update|share|key\s+share))\b",
    re.IGNORECASE,
)
PLAN_TIMEOUT_MS = 2000
STATEMENT_CHARS = 2000


def explainable(statement: str) -> bool:
    """A plain SELECT: no write, no lock, no sequence, nothing but reading."""
    head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    return head in ("SELECT", "WITH") and _WRITES.search(statement) is None


class SlowQueries:
    def __init__(self, engine: AsyncEngine, *, threshold_ms: float, plans_per_minute: int) -> None:
        self.threshold_ms = threshold_ms
        self.plans_per_minute = plans_per_minute
        self._url = engine.url
        self._explainer: AsyncEngine | None = None
        self._plans: list[float] = []  # when the plans of the last minute were asked for
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(self, statement: str, parameters: Any, seconds: float) -> None:
        """Called from the engine's listener, in the event loop's thread."""
        operation = operation_name()
        if explainable(statement) and self._may_plan():
            task = asyncio.get_running_loop().create_task(
                self._log_with_plan(statement, parameters, seconds, operation)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        self._log(statement, seconds, operation, plan=None)

    def _may_plan(self) -> bool:
        now = time.monotonic()
        self._plans = [at for at in self._plans if now - at < 60]
        if len(self._plans) >= self.plans_per_minute:
            return False
        self._plans.append(now)
        return True

    async def _log_with_plan(
        self, statement: str, parameters: Any, seconds: float, operation: str | None
    ) -> None:
        try:
            plan = await self.explain(statement, parameters)
        except Exception as exc:
            plan = {"error": f"EXPLAIN failed: {type(exc).__name__}"}
        self._log(statement, seconds, operation, plan=plan)

    async def explain(self, statement: str, parameters: Any) -> Any:
        if self._explainer is None:
            self._explainer = create_async_engine(
                self._url,
                poolclass=NullPool,
                connect_args={
                    "server_settings": {
                        "application_name": "ordergraph-explain",
                        "statement_timeout": str(PLAN_TIMEOUT_MS),
                    }
                },
            )
        args = tuple(parameters) if isinstance(parameters, list | tuple) else parameters
        async with self._explainer.connect() as conn:
            result = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, args)
            return result.scalar_one()

    def _log(self, statement: str, seconds: float, operation: str | None, *, plan: Any) -> None:
        log.warning(
            "slow statement: %.0f ms in %s",
            seconds * 1000,
            operation or "no operation",
            extra={
                "slow_ms": round(seconds * 1000, 1),
                "operation": operation,
                "statement": statement[:STATEMENT_CHARS],
                "plan": plan,
            },
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        if self._explainer is not None:
            await self._explainer.dispose()
