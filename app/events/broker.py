"""This process's subscribers, and the events they are owed, in order, once each.

The broker delivers events by position. An event from the bus that skips positions
makes it read the gap from the event log first; a poll of the log catches up anything
the bus lost. Each subscriber has a bounded queue: one that falls behind is dropped,
with a reason, instead of slowing others or growing without limit.

A subscriber may also take events `direct`ly, as the broker dispatches them, without
its task waking up (the WebSocket fast path, app.graphql.events.fast): only while it
waits with an empty queue, so what it takes direct never overtakes what is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import connect
from app.errors import ServiceUnavailable, ShuttingDown, SlowConsumer
from app.events import event_log
from app.events.records import Event

log = logging.getLogger(__name__)


class _Overflow:
    pass


OVERFLOW = _Overflow()


class _Closing:
    pass


CLOSING = _Closing()
SHUTTING_DOWN = (
    "This server is shutting down and ended the subscription; subscribe again (another "
    "instance answers) with `after` set to the last cursor you received."
)


class Subscriber:
    def __init__(
        self, broker: Broker, predicate: Callable[[Event], bool], limit: int, start: int
    ) -> None:
        self.broker = broker
        self.predicate = predicate
        self.limit = limit
        self.start = start  # the last position delivered before this subscriber joined
        self.queue: asyncio.Queue[Event | _Overflow | _Closing] = asyncio.Queue()
        # Takes an event at dispatch and says whether it did (False: queue it).
        self.direct: Callable[[Event], bool] | None = None
        self.waiting = False  # in `next`, for an empty queue
        self.transport = ""  # ws, sse or multipart

    def offer(self, event: Event) -> None:
        if not self.predicate(event):
            return
        direct = self.direct
        if direct is not None and self.waiting and self.queue.empty():
            try:
                if direct(event):
                    return
            except Exception:
                log.exception("direct delivery failed; queueing the event")
                self.direct = None
        if self.queue.qsize() >= self.limit:
            self.overflow()
            return
        self.queue.put_nowait(event)

    def overflow(self) -> None:
        """Drop this subscriber: its `next` raises SlowConsumer (after what it holds)."""
        self.broker.unsubscribe(self)
        self.direct = None
        self.queue.put_nowait(OVERFLOW)

    async def next(self, wait: float | None = None) -> Event:
        """The next event, within `wait` seconds (else TimeoutError)."""
        # Not asyncio.wait_for: it makes a task per call, once per event and subscriber.
        if self.queue.empty():
            self.waiting = True
            try:
                async with asyncio.timeout(wait):
                    item = await self.queue.get()
            finally:
                self.waiting = False
        else:
            item = self.queue.get_nowait()
        if isinstance(item, _Closing):
            raise ShuttingDown(SHUTTING_DOWN)
        if isinstance(item, _Overflow):
            raise SlowConsumer(
                f"You fell more than {self.limit} events behind and were disconnected; "
                "subscribe again with `after` set to the last cursor you received."
            )
        return item

    def close(self) -> None:
        self.broker.unsubscribe(self)

    def end(self) -> None:
        """The server is stopping: `next` raises ShuttingDown after what is queued."""
        self.broker.unsubscribe(self)
        self.direct = None
        self.queue.put_nowait(CLOSING)


class Broker:
    def __init__(self, reader: AsyncEngine, *, queue_limit: int) -> None:
        self.reader = reader
        self.queue_limit = queue_limit
        self.last = 0
        self._subscribers: set[Subscriber] = set()
        # Live subscribers by transport (ws, sse, multipart), for /metrics.
        self.by_transport: Counter[str] = Counter()
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self.closing = False

    def end_subscribers(self) -> None:
        """Graceful shutdown: every subscriber, and any that joins from now on, ends
        with ShuttingDown (the subscription's transport tells its client to resume)."""
        self.closing = True
        for subscriber in list(self._subscribers):
            subscriber.end()

    def stop(self) -> None:
        """End `poll` at its next step (never in the middle of a read)."""
        self._stop.set()

    async def start(self) -> None:
        async with connect(self.reader) as conn:
            self.last = (await event_log.bounds(conn))[1]

    def subscribe(self, predicate: Callable[[Event], bool], *, transport: str = "") -> Subscriber:
        subscriber = Subscriber(self, predicate, self.queue_limit, self.last)
        subscriber.transport = transport
        self._subscribers.add(subscriber)
        self.by_transport[transport] += 1
        if self.closing:
            subscriber.end()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.discard(subscriber)
            self.by_transport[subscriber.transport] -= 1

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def on_event(self, event: Event) -> None:
        """An event from the bus: deliver it after any positions it skipped."""
        async with self._lock:
            if event.position <= self.last:
                return
            if event.position > self.last + 1:
                await self._catch_up(until=event.position - 1)
            if event.position == self.last + 1:
                self._dispatch(event)

    async def poll(self, interval: float) -> None:
        """Read the log now and then, for whatever the bus did not bring."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)
            if self._stop.is_set():
                return
            try:
                async with self._lock:
                    await self._catch_up()
            except ServiceUnavailable:
                log.debug("event log unreachable; will retry")
            except Exception:
                log.exception("reading the event log failed; will retry")

    async def _catch_up(self, until: int | None = None) -> None:
        while True:
            async with connect(self.reader) as conn:
                batch = await event_log.read_after(conn, self.last, until=until)
            for event in batch:
                self._dispatch(event)
            if len(batch) < 1000:
                return

    def _dispatch(self, event: Event) -> None:
        self.last = event.position
        for subscriber in list(self._subscribers):
            subscriber.offer(event)
