"""The broker: order, gaps filled from the log, and bounded queues."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db.engine import read_only
from app.db.events import events
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


async def test_a_gap_in_the_bus_is_filled_from_the_log_in_order(empty_url: str) -> None:
    """Positions that skip ahead make the broker read the missing ones from the event
    log (real PostgreSQL) before the one that skipped: each once, in order."""
    engine = create_async_engine(empty_url)
    try:
        logged = [event(position) for position in range(1, 9)]
        async with engine.begin() as conn:
            await conn.execute(insert(events), [as_row(e) for e in logged])
        broker = Broker(read_only(engine), queue_limit=100)
        subscriber = broker.subscribe(lambda e: True)
        # The bus brings 1 and 2, loses 3 to 5, then brings 6, 6 again, 4 late, 7 and 8.
        for position in (1, 2, 6, 6, 4, 7, 8):
            await broker.on_event(logged[position - 1])
        received = [await subscriber.next(1) for _ in range(8)]
    finally:
        await engine.dispose()
    assert [e.position for e in received] == list(range(1, 9))
    # The filled ones are the log's events, not stand-ins.
    assert [e.entity_id for e in received] == [e.entity_id for e in logged]
    assert subscriber.queue.empty()


def as_row(e: Event) -> dict[str, object]:
    return {
        "position": e.position,
        "topic": e.topic,
        "type": e.type,
        "entity_id": e.entity_id,
        "owner_id": e.owner_id,
        "changed_fields": list(e.changed_fields),
        "data": e.data,
        "occurred_at": e.occurred_at,
    }
