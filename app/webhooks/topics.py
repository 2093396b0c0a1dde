"""Which events an endpoint receives: names, its filter, and its owner's read rights."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.auth import policy
from app.auth.viewer import Viewer
from app.events.records import Event

TOPICS = ("order", "product", "user")
KINDS = ("created", "updated", "status_changed", "deleted")
EVENT_TYPES = tuple(
    f"{topic}.{kind}"
    for topic in TOPICS
    for kind in KINDS
    if kind != "status_changed" or topic == "order"
)
PING = "webhook.ping"


def event_type(event: Event) -> str:
    return f"{event.topic}.{event.type.lower()}"


@dataclass(frozen=True, slots=True)
class Filter:
    """Conditions on top of the event types; all given ones hold."""

    entity_ids: tuple[uuid.UUID, ...] | None = None
    statuses: tuple[str, ...] | None = None  # orders: status after the change

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {}
        if self.entity_ids is not None:
            value["entity_ids"] = [str(pk) for pk in self.entity_ids]
        if self.statuses is not None:
            value["statuses"] = list(self.statuses)
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Filter:
        ids = value.get("entity_ids")
        statuses = value.get("statuses")
        return cls(
            entity_ids=tuple(uuid.UUID(pk) for pk in ids) if ids is not None else None,
            statuses=tuple(statuses) if statuses is not None else None,
        )


def may_see(viewer: Viewer, event: Event) -> bool:
    """The same read rules as the subscriptions: orders their owner's, users themselves."""
    if event.topic == "order":
        return event.owner_id is not None and policy.can_read_order(viewer, event.owner_id)
    if event.topic == "user":
        return policy.can_read_user(viewer, event.entity_id)
    return True


def wanted(event: Event, *, events: Sequence[str], filter: Filter, viewer: Viewer) -> bool:
    if event_type(event) not in events:
        return False
    if filter.entity_ids is not None and event.entity_id not in filter.entity_ids:
        return False
    if filter.statuses is not None and event.data.get("status") not in filter.statuses:
        return False
    return may_see(viewer, event)
