"""An event as it travels: from the event log, over the bus, to a subscriber."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Event:
    position: int
    topic: str
    type: str
    entity_id: uuid.UUID
    owner_id: uuid.UUID | None
    changed_fields: tuple[str, ...]
    data: dict[str, Any]
    occurred_at: datetime

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "position": self.position,
                "topic": self.topic,
                "type": self.type,
                "entity_id": str(self.entity_id),
                "owner_id": str(self.owner_id) if self.owner_id else None,
                "changed_fields": self.changed_fields,
                "data": self.data,
                "occurred_at": self.occurred_at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        value = orjson.loads(raw)
        return cls(
            position=int(value["position"]),
            topic=value["topic"],
            type=value["type"],
            entity_id=uuid.UUID(value["entity_id"]),
            owner_id=uuid.UUID(value["owner_id"]) if value["owner_id"] else None,
            changed_fields=tuple(value["changed_fields"]),
            data=value["data"],
            occurred_at=datetime.fromisoformat(value["occurred_at"]),
        )

    @classmethod
    def from_row(cls, row: Any) -> Event:
        return cls(
            position=row.position,
            topic=row.topic,
            type=row.type,
            entity_id=row.entity_id,
            owner_id=row.owner_id,
            changed_fields=tuple(row.changed_fields),
            data=row.data,
            occurred_at=row.occurred_at,
        )
