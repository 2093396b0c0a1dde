"""The broker: order, gaps filled from the log, and bounded queues."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import read_only
from app.errors import SlowConsumer
from app.events.broker import Broker
from app.events.records import Event


def event(position: int) -> Event:
    return Event(
        position=position,
        topic="product",
        type="UPDATED",
        entity_id=uuid.uuid4(),
        owner_id=None,
        changed_fields=("stock",),
        data={},
        occurred_at=datetime.now(UTC),
    )


async def test_a_subscriber_that_falls_behind_is_cut_off_with_a_reason(
    engine: AsyncEngine,
) -> None:
    broker = Broker(read_only(engine), queue_limit=5)
    broker.last = 1000
    stalled = broker.subscribe(lambda e: True)
    keeping_up = broker.subscribe(lambda e: True)
    received = []
    for position in range(1001, 1021):
        await broker.on_event(event(position))
        received.append((await keeping_up.next(1)).position)
    assert received == list(range(1001, 1021))
    assert broker.subscriber_count == 1
    buffered = [(await stalled.next(1)).position for _ in range(5)]
    assert buffered == list(range(1001, 1006))
    with pytest.raises(SlowConsumer, match="`after`"):
        await stalled.next(1)


async def test_duplicates_from_the_bus_are_dropped(engine: AsyncEngine) -> None:
    broker = Broker(read_only(engine), queue_limit=100)
    broker.last = 50
    subscriber = broker.subscribe(lambda e: True)
    for position in (51, 51, 52, 50, 52):
        await broker.on_event(event(position))
    assert [(await subscriber.next(1)).position for _ in range(2)] == [51, 52]
    assert subscriber.queue.empty()
