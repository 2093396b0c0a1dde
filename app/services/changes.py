"""A change, recorded twice in its transaction: an event for subscribers (the outbox)
and an audit record. Both commit with the change, or neither does."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.services import audit, outbox
from app.services.audit import Actor


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
    """`data` is the object after the change (before it, for a delete); `changes` is
    what the audit trail shows; `changed_fields` what the event lists."""
    await outbox.emit(
        conn,
        topic=topic,
        type=type,
        entity_id=entity_id,
        owner_id=owner_id,
        data=data,
        changed_fields=changed_fields,
    )
    await audit.record(
        conn,
        actor=actor,
        action=action,
        entity_type=topic.capitalize(),
        entity_id=entity_id,
        changes=changes,
    )
