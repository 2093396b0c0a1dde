"""Single connection mode's reservations: each a token, its owner, the operations that
stream through it and the messages waiting for its stream; and this process's registry
of them, which ends each one (operations, slot, token) exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from collections.abc import Callable, Hashable

from cross_web import HTTPException

# Messages a reservation keeps for its stream before its operations wait: results posted
# before the stream opens are kept for it (the protocol allows that order), and a reader
# that stops reading makes the operations fall behind in the broker, which cuts them off
# with SLOW_CONSUMER as on every other transport.
_OUTBOX = 32


class StreamNotFound(HTTPException):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__(
            404,
            "Stream not found: no reservation of yours has this token on this server. "
            "Reserve one with PUT, and send its token (X-GraphQL-Event-Stream-Token "
            "header or `token` parameter) with the same Authorization to the same server.",
        )


class Outbox:
    """The stream's messages in order. Results wait for room; completions never do
    (one per operation), so stopping an operation never blocks."""

    def __init__(self, limit: int) -> None:
        self._items: deque[bytes] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    async def put(self, item: bytes) -> None:
        while len(self._items) >= self._limit:
            self._room.clear()
            await self._room.wait()
        self.put_nowait(item)

    def put_nowait(self, item: bytes) -> None:
        self._items.append(item)
        self._ready.set()

    async def get(self, wait: float) -> bytes | None:
        """The next message, or None after `wait` seconds without one."""
        if not self._items:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._ready.wait()
            if not self._items:
                return None
        item = self._items.popleft()
        if len(self._items) < self._limit:
            self._room.set()
        return item


class Reservation:
    """One reserved event stream and the operations that stream through it."""

    def __init__(self, token: str, owner: Hashable, release: Callable[[], None]) -> None:
        self.token = token
        self.owner = owner
        self.release = release
        self.outbox = Outbox(_OUTBOX)
        # An id maps to None while its POST is being validated, then to its task.
        self.operations: dict[str, asyncio.Task[None] | None] = {}
        self.streaming = False
        self.closed = False
        self.ended = asyncio.Event()
        self.expiry: asyncio.TimerHandle | None = None


class Reservations:
    """This process's reservations, by token."""

    def __init__(self) -> None:
        self._by_token: dict[str, Reservation] = {}
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def count(self) -> int:
        return len(self._by_token)

    @property
    def operation_count(self) -> int:
        return sum(len(r.operations) for r in self._by_token.values())

    def reserve(self, owner: Hashable, release: Callable[[], None], *, ttl: float) -> Reservation:
        reservation = Reservation(secrets.token_urlsafe(32), owner, release)
        self._by_token[reservation.token] = reservation
        reservation.expiry = asyncio.get_running_loop().call_later(ttl, self._expire, reservation)
        return reservation

    def find(self, token: str | None, owner: Hashable) -> Reservation:
        """The caller's own reservation with this token, else StreamNotFound."""
        reservation = self._by_token.get(token) if token else None
        if reservation is None or reservation.owner != owner:
            raise StreamNotFound
        return reservation

    def owns(self, token: str | None, owner: Hashable) -> bool:
        reservation = self._by_token.get(token) if token else None
        return reservation is not None and reservation.owner == owner

    def _expire(self, reservation: Reservation) -> None:
        if reservation.streaming:
            return
        task = asyncio.create_task(self.dispose(reservation))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def dispose(self, reservation: Reservation) -> None:
        """End the reservation: its operations stop and leave the broker, its slot and
        token are given back, and its stream (if open) ends."""
        if reservation.closed:
            return
        reservation.closed = True
        self._by_token.pop(reservation.token, None)
        if reservation.expiry is not None:
            reservation.expiry.cancel()
        reservation.release()
        reservation.ended.set()
        tasks = [task for task in reservation.operations.values() if task is not None]
        reservation.operations.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """At shutdown: every reservation ends."""
        for reservation in list(self._by_token.values()):
            await self.dispose(reservation)
        await asyncio.gather(*self._closing, return_exceptions=True)


__all__ = ["Outbox", "Reservation", "Reservations", "StreamNotFound"]
