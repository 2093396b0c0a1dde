"""Graceful shutdown: the order in which a stopping server lets go of its clients.

On SIGTERM (or SIGINT) uvicorn would close its listening socket at once, end every
WebSocket with 1012 and cut streams after its grace period. A server behind a load
balancer needs another order, which `Drain` runs before handing over to uvicorn:

1. /readyz answers 503 ("draining"), and for SHUTDOWN_DRAIN_SECONDS the server goes
   on serving everything, so the balancer stops sending new requests first;
2. every WebSocket closes with 1001 (going away): graphql-ws clients reconnect, to
   another instance, and resume their subscriptions with `after`;
3. the broker ends its subscribers: SSE and multipart subscriptions end with a
   SHUTTING_DOWN error that says to resume with `after`, and their bodies end whole;
4. uvicorn's own shutdown: no new connections, requests in flight get up to
   SHUTDOWN_GRACE_SECONDS to finish, then the lifespan stops the relay (between
   transactions: its advisory lock is a transaction's, released at each commit) and
   the pools.

Committed writes are never lost: an outbox row a stopping relay did not move is moved
by any other instance's relay (or this one's on restart).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None]]
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Drain:
    """This app's drain: `draining` once a stop began; `closers` run in order after the
    delay (each one's failure logged, never stopping the others)."""

    def __init__(self, *, delay: float) -> None:
        self.delay = delay
        self.draining = False
        self._closers: list[Closer] = []

    def on_drain(self, closer: Closer) -> None:
        self._closers.append(closer)

    async def run(self, *, delay: float | None = None) -> None:
        self.draining = True
        wait = self.delay if delay is None else delay
        log.info("draining: /readyz answers 503; closing streams in %.1f s", wait)
        if wait > 0:
            await asyncio.sleep(wait)
        for closer in self._closers:
            try:
                await closer()
            except Exception:
                log.exception("a drain step failed; shutting down anyway")


class SignalHandoff:
    """Runs `drain` on the first SIGTERM or SIGINT, then hands the signal to the
    handler that was installed before (uvicorn's, which begins its own shutdown).

    Installed only over a uvicorn server's handler: an app run in-process (tests,
    other servers) keeps whatever signal handling its host has. A second signal
    during the drain goes to uvicorn at once (a second Ctrl-C still forces)."""

    def __init__(self, drain: Drain, loop: asyncio.AbstractEventLoop) -> None:
        self.drain = drain
        self.loop = loop
        self.previous: dict[int, Any] = {}
        self._task: asyncio.Task[None] | None = None

    def install(self) -> bool:
        handlers: dict[int, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}
        if not all(_is_uvicorns(handler) for handler in handlers.values()):
            return False
        self.previous = handlers
        for sig in SIGNALS:
            signal.signal(sig, self._received)
        return True

    def uninstall(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}

    def _received(self, sig: int, frame: FrameType | None) -> None:
        if self._task is not None:
            self._hand_over(sig, frame)
            return
        # A signal handler runs between two bytecodes of whatever the loop was doing:
        # the drain is scheduled, not run here.
        self.loop.call_soon_threadsafe(self._start, sig)

    def _start(self, sig: int) -> None:
        # Ctrl-C at a terminal: nobody balances load there, no point in waiting.
        delay = 0.0 if sig == signal.SIGINT else None
        self._task = asyncio.ensure_future(self._drain_then_hand_over(sig, delay))

    async def _drain_then_hand_over(self, sig: int, delay: float | None) -> None:
        try:
            await self.drain.run(delay=delay)
        finally:
            self._hand_over(sig, None)

    def _hand_over(self, sig: int, frame: FrameType | None) -> None:
        handler = self.previous.get(sig)
        if callable(handler):
            handler(sig, frame)


def _is_uvicorns(handler: Any) -> bool:
    owner = getattr(handler, "__self__", None)
    return type(owner).__module__.startswith("uvicorn.") and callable(handler)
