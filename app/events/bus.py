"""How events reach every instance: Redis pub/sub, or in-process when there is no Redis.

The bus is a fast path, not the record: brokers also read the event log, so an event
the bus drops (Redis restarting, a network blip) still arrives, a moment later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.events.records import Event

log = logging.getLogger(__name__)
Handler = Callable[[Event], Awaitable[None]]


class Bus(Protocol):
    async def publish(self, events: list[Event]) -> None: ...

    async def listen(self, handler: Handler) -> None:
        """Call `handler` for every event published by any instance, until cancelled."""

    async def close(self) -> None: ...


class LocalBus:
    """One process: publishing hands events straight to this process's broker."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    async def publish(self, events: list[Event]) -> None:
        for handler in self._handlers:
            for event in events:
                await handler(event)

    async def listen(self, handler: Handler) -> None:
        self._handlers.append(handler)
        try:
            await asyncio.Event().wait()
        finally:
            self._handlers.remove(handler)

    async def close(self) -> None:
        self._handlers.clear()


class RedisBus:
    def __init__(self, url: str, *, channel: str) -> None:
        # No read timeout for the subscription: it waits for messages as long as it takes.
        self._client = redis.from_url(url, socket_connect_timeout=2, health_check_interval=10)
        # Publishing must not hold the relay up: the event log is the record anyway.
        self._publisher = redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._channel = channel
        self._warned_at = 0.0

    async def publish(self, events: list[Event]) -> None:
        try:
            async with self._publisher.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.publish(self._channel, event.to_json())
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._warn(
                f"could not publish {len(events)} events to Redis ({exc}); "
                "instances will read them from PostgreSQL"
            )

    async def listen(self, handler: Handler) -> None:
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        await handler(Event.from_json(message["data"]))
                    except Exception as exc:
                        self._warn(f"could not deliver an event from Redis ({exc!r})")
            except (RedisError, OSError) as exc:
                self._warn(f"lost the Redis subscription ({exc}); retrying")
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        await self._client.aclose()
        await self._publisher.aclose()

    def _warn(self, message: str) -> None:
        """Once a minute at most: an outage should not flood the log."""
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            log.warning(message)
