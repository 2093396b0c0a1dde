"""The server's retention turn: every RETENTION_EVERY_SECONDS, on whichever instance
takes the lock first."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from app.errors import ServiceUnavailable
from app.retention.runner import RunResult, run_retention
from app.settings import Settings

log = logging.getLogger(__name__)

# A server restarted more often than RETENTION_EVERY_SECONDS still gets its turns.
FIRST_RUN_AFTER = 60.0


class RetentionSchedule:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.every = settings.retention_every_seconds
        self.turns = 0  # runs that took the lock and finished
        self.skipped = 0  # turns another instance had
        self.last: RunResult | None = None
        self.turned = asyncio.Event()  # set after each finished turn; whoever waits clears it
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Finish the current batch and return: a run stops between transactions."""
        self._stop.set()

    async def run(self) -> None:
        wait = min(self.every, FIRST_RUN_AFTER)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
            if self._stop.is_set():
                return
            wait = self.every
            try:
                result = await run_retention(
                    self.engine, self.settings, should_stop=self._stop.is_set
                )
            except ServiceUnavailable:
                log.debug("database unreachable; retention will try on its next turn")
                continue
            except Exception:
                log.exception("retention run failed; it will try on its next turn")
                continue
            if result is None:
                self.skipped += 1
                log.debug("retention: another instance holds the lock; skipped this turn")
            else:
                self.turns += 1
                self.last = result
            self.turned.set()
