"""Writing change events to the outbox, in the transaction of the change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from app.services.audit import plain


@dataclass(frozen=True, slots=True)
class Event:
    entity_id: uuid.UUID
    owner_id: uuid.UUID | None
    data: Mapping[Any, Any]  # the object after the change (before it, for a delete)
    changed_fields: Sequence[str] = field(default=())


# One statement for any number of events, inserted in the given order (`n`): the outbox
# id, and so the order subscribers see, follows it.
_INSERT = text(
    """
    INSERT INTO outbox (topic, type, entity_id, owner_id, changed_fields, data)
    SELECT :topic, :type, e.entity_id, e.owner_id, e.changed_fields, e.data
    FROM jsonb_to_recordset(:events)
         AS e(entity_id uuid, owner_id uuid, changed_fields text[], data jsonb, n bigint)
    ORDER BY e.n
    """
).bindparams(
    bindparam("events", type_=JSONB), bindparam("topic", type_=Text), bindparam("type", type_=Text)
)


async def emit(
    conn: AsyncConnection,
    *,
    topic: str,
    type: str,
    entity_id: uuid.UUID,
    owner_id: uuid.UUID | None,
    data: Mapping[Any, Any],
    changed_fields: Iterable[str] = (),
) -> None:
    """Record that `entity_id` changed; relays publish it once this transaction commits.

    The change is also noted on the connection (`conn.info["emitted"]`), so that the
    caller can invalidate caches once the transaction has committed.
    """
    await emit_many(
        conn,
        topic=topic,
        type=type,
        events=[Event(entity_id, owner_id, data, list(changed_fields))],
    )


async def emit_many(
    conn: AsyncConnection, *, topic: str, type: str, events: Sequence[Event]
) -> None:
    """`emit` for many entities of one topic and type, in one statement and in order."""
    if not events:
        return
    noted = conn.info.setdefault("emitted", [])
    rows = []
    for n, event in enumerate(events):
        fields = list(event.changed_fields)
        noted.append(
            {
                "topic": topic,
                "type": type,
                "entity_id": event.entity_id,
                "owner_id": event.owner_id,
                "changed_fields": fields,
            }
        )
        rows.append(
            {
                "n": n,
                "entity_id": str(event.entity_id),
                "owner_id": str(event.owner_id) if event.owner_id else None,
                "changed_fields": fields,
                "data": {str(key): plain(value) for key, value in event.data.items()},
            }
        )
    await conn.execute(_INSERT, {"topic": topic, "type": type, "events": rows})
