"""Reading and writing the event log (the `events` table)."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.events import events
from app.events.records import Event

# Relays take turns under this lock, so positions are assigned and committed in order.
RELAY_LOCK = 0x6F72646572  # "order"

MOVE = text(
    """
    WITH moved AS (
      DELETE FROM outbox
      WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT :batch)
      RETURNING *
    ), start AS (SELECT coalesce(max(position), 0) AS at FROM events)
    INSERT INTO events (position, topic, type, entity_id, owner_id, changed_fields, data,
                        occurred_at)
    SELECT start.at + row_number() OVER (ORDER BY moved.id), moved.topic, moved.type,
           moved.entity_id, moved.owner_id, moved.changed_fields, moved.data, moved.occurred_at
    FROM moved, start
    RETURNING *
    """
)


async def move_from_outbox(conn: AsyncConnection, *, batch: int = 1000) -> list[Event]:
    """Number committed outbox rows into the log; the caller commits. Runs alone."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RELAY_LOCK})
    rows = (await conn.execute(MOVE, {"batch": batch})).all()
    return sorted((Event.from_row(row) for row in rows), key=lambda event: event.position)


async def read_after(
    conn: AsyncConnection, position: int, *, until: int | None = None, limit: int = 1000
) -> list[Event]:
    stmt = select(events).where(events.c.position > position).order_by(events.c.position)
    if until is not None:
        stmt = stmt.where(events.c.position <= until)
    rows = (await conn.execute(stmt.limit(limit))).all()
    return [Event.from_row(row) for row in rows]


async def bounds(conn: AsyncConnection) -> tuple[int, int]:
    """(first, last) positions in the log; (0, 0) when it is empty."""
    stmt = select(func.min(events.c.position), func.max(events.c.position))
    row = (await conn.execute(stmt)).one()
    return int(row[0] or 0), int(row[1] or 0)
