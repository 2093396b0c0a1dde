"""The relay: moves committed outbox rows into the event log and onto the bus.

Every instance runs one. PostgreSQL's NOTIFY (sent when a writing transaction commits)
wakes it; a poll covers a missed notification. Relays take turns under an advisory lock,
so events are numbered once, in commit order, whichever relay moves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import transaction
from app.errors import ServiceUnavailable
from app.events import event_log
from app.events.bus import Bus
from app.events.records import Event

log = logging.getLogger(__name__)
CHANNEL = "ordergraph_outbox"


class Relay:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        *,
        poll_interval: float,
        on_moved: Callable[[list[Event]], Awaitable[None]] | None = None,
        listen: bool = True,
    ) -> None:
        self.engine = engine
        # LISTEN needs a session of its own, which PgBouncer's transaction pooling does
        # not give: there the relay polls (and local commits kick it).
        self.listen = listen
        self.bus = bus
        self.on_moved = on_moved
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def kick(self) -> None:
        """Move now (after a local commit), without waiting for the notification."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current step and return: never cancelled in the middle of a
        transaction, which can leave a connection busy."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen() if self.listen else self._stop.wait())
        try:
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    await self.drain()
                except ServiceUnavailable:
                    log.debug("database unreachable; the relay will retry")
                except Exception:
                    log.exception("relay step failed; it will try again")
        finally:
            # Its connection must be back in the pool before the engine goes.
            await listener

    async def drain(self) -> int:
        moved = 0
        while True:
            async with transaction(self.engine) as conn:
                batch = await event_log.move_from_outbox(conn)
            if self.on_moved is not None:
                await self.on_moved(batch)  # also called empty: it retries what failed
            if batch:
                await self.bus.publish(batch)
            moved += len(batch)
            if len(batch) < 1000:
                return moved

    async def _listen(self) -> None:
        """LISTEN on a connection of its own; reconnect when it drops."""
        while not self._stop.is_set():
            try:
                async with self.engine.connect() as conn:
                    raw = (await conn.get_raw_connection()).driver_connection
                    assert raw is not None
                    lost = asyncio.Event()
                    raw.add_termination_listener(lambda *_, lost=lost: lost.set())
                    await raw.add_listener(CHANNEL, self._notified)
                    waits = [asyncio.ensure_future(event.wait()) for event in (lost, self._stop)]
                    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    for waiting in pending:
                        waiting.cancel()
                    if not raw.is_closed():
                        await raw.remove_listener(CHANNEL, self._notified)
            except Exception as exc:
                log.debug("LISTEN connection lost (%s); retrying", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.poll_interval)

    def _notified(self, *_: object) -> None:
        self._wake.set()
