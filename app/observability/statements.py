"""Listeners on the engine: each statement counted for its operation, and timed when
SLOW_QUERY_MS is set (app.observability.slow_queries)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.observability.scope import CURRENT
from app.observability.slow_queries import SlowQueries

_STARTED = "og_started"


def instrument(engine: AsyncEngine, slow: SlowQueries | None) -> None:
    """Count every statement (and time it, when `slow` is given) on this engine."""

    def before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        scope = CURRENT.get()
        if scope is not None:
            scope.statements += 1
        if slow is not None:
            conn.info[_STARTED] = time.perf_counter()

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    if slow is None:
        return

    def after(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        started = conn.info.pop(_STARTED, None)
        if started is None:
            return
        seconds = time.perf_counter() - started
        if seconds * 1000 >= slow.threshold_ms:
            slow.observe(statement, parameters, seconds)

    event.listen(engine.sync_engine, "after_cursor_execute", after)
