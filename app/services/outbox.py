"""Writing change events to the outbox, in the transaction of the change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.events import outbox
from app.services.audit import plain


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
    fields = list(changed_fields)
    conn.info.setdefault("emitted", []).append(
        {
            "topic": topic,
            "type": type,
            "entity_id": entity_id,
            "owner_id": owner_id,
            "changed_fields": fields,
        }
    )
    await conn.execute(
        insert(outbox).values(
            topic=topic,
            type=type,
            entity_id=entity_id,
            owner_id=owner_id,
            changed_fields=fields,
            data={str(key): plain(value) for key, value in data.items()},
        )
    )
