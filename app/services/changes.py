"""A change, recorded twice in its transaction: an event for subscribers (the outbox)
and an audit record. Both commit with the change, or neither does."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.services import audit, outbox
from app.services.audit import Actor


@dataclass(frozen=True, slots=True)
class Change:
    """One entity's change: `data` is the object after it (before it, for a delete);
    `changes` is what the audit trail shows; `changed_fields` what the event lists."""

    entity_id: uuid.UUID
    owner_id: uuid.UUID | None
    data: Mapping[Any, Any]
    changes: dict[str, dict[str, Any]]
    changed_fields: Sequence[str] = field(default=())


async def record_change(
    conn: AsyncConnection,
    *,
    actor: Actor,
    action: str,
    topic: str,
    type: str,
    entity_id: uuid.UUID,
    owner_id: uuid.UUID | None,
    data: Mapping[Any, Any],
    changes: dict[str, dict[str, Any]],
    changed_fields: Iterable[str] = (),
) -> None:
    await record_changes(
        conn,
        actor=actor,
        action=action,
        topic=topic,
        type=type,
        changes=[Change(entity_id, owner_id, data, changes, list(changed_fields))],
    )


async def record_changes(
    conn: AsyncConnection,
    *,
    actor: Actor,
    action: str,
    topic: str,
    type: str,
    changes: Sequence[Change],
) -> None:
    """Many changes of one kind: one event and one audit record each, in two statements."""
    await outbox.emit_many(
        conn,
        topic=topic,
        type=type,
        events=[outbox.Event(c.entity_id, c.owner_id, c.data, c.changed_fields) for c in changes],
    )
    await audit.record_many(
        conn,
        actor=actor,
        action=action,
        entity_type=topic.capitalize(),
        changes={c.entity_id: c.changes for c in changes},
    )
