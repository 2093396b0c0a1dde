"""A circuit breaker for calls to Redis: after a failure every call is skipped for a
while, so requests go on without paying the timeout again; failures are counted and
logged at most once a minute."""

from __future__ import annotations

import logging
import time


class Breaker:
    def __init__(self, *, cooldown: float, what: str, logger: logging.Logger) -> None:
        self.cooldown = cooldown
        self.what = what
        self.log = logger
        self.errors = 0
        self._open_until = 0.0
        self._logged_at = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def failed(self, exc: BaseException) -> None:
        self.errors += 1
        now = time.monotonic()
        self._open_until = now + self.cooldown
        if now - self._logged_at > 60:
            self._logged_at = now
            self.log.warning("%s: Redis failed (%s)", self.what, exc)
