"""Writing the audit trail, inside the transaction of the change it records."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, bindparam, insert, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.viewer import RequestMeta, Viewer
from app.db.audit import audit_events

# Never written to the trail, whatever a caller passes.
SECRET_FIELDS = frozenset({"token", "token_hash", "password"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change (a user through the API, or the CLI) and from where."""

    viewer: Viewer
    kind: str = "user"
    meta: RequestMeta = field(default_factory=RequestMeta)

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.viewer.user_id


# The command line acts with an admin's rights; the trail records it as the CLI.
CLI = Actor(viewer=Viewer(role="admin"), kind="cli")


def diff(
    before: Mapping[Any, Any] | None, after: Mapping[Any, Any] | None, fields: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """{field: {before, after}} for the fields whose value changed."""
    changes: dict[str, dict[str, Any]] = {}
    for name in fields:
        if name in SECRET_FIELDS:
            continue
        old = before.get(name) if before is not None else None
        new = after.get(name) if after is not None else None
        if old != new:
            changes[name] = {"before": plain(old), "after": plain(new)}
    return changes


async def record(
    conn: AsyncConnection,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID,
    changes: dict[str, dict[str, Any]],
) -> None:
    await conn.execute(
        insert(audit_events).values(
            actor_id=actor.user_id,
            actor_kind=actor.kind,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            changes=changes,
            request_id=actor.meta.request_id,
            client_addr=actor.meta.client_addr,
            user_agent=actor.meta.user_agent,
        )
    )


async def record_many(
    conn: AsyncConnection,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    changes: dict[uuid.UUID, dict[str, dict[str, Any]]],
) -> None:
    """One event per entity, in one statement (one row each, in the given order)."""
    if not changes:
        return
    await conn.execute(
        _INSERT_MANY,
        {
            "actor_id": actor.user_id,
            "actor_kind": actor.kind,
            "action": action,
            "entity_type": entity_type,
            "request_id": actor.meta.request_id,
            "client_addr": actor.meta.client_addr,
            "user_agent": actor.meta.user_agent,
            "rows": [
                {"n": n, "entity_id": str(entity_id), "changes": plain(entity_changes)}
                for n, (entity_id, entity_changes) in enumerate(changes.items())
            ],
        },
    )


_INSERT_MANY = text(
    """
    INSERT INTO audit_events (actor_id, actor_kind, action, entity_type, entity_id, changes,
                              request_id, client_addr, user_agent)
    SELECT :actor_id, :actor_kind, :action, :entity_type, r.entity_id, r.changes,
           :request_id, :client_addr, :user_agent
    FROM jsonb_to_recordset(:rows) AS r(entity_id uuid, changes jsonb, n bigint)
    ORDER BY r.n
    """
).bindparams(
    bindparam("rows", type_=JSONB),
    bindparam("actor_id", type_=UUID(as_uuid=True)),
    bindparam("actor_kind", type_=Text),
    bindparam("action", type_=Text),
    bindparam("entity_type", type_=Text),
    bindparam("request_id", type_=Text),
    bindparam("client_addr", type_=Text),
    bindparam("user_agent", type_=Text),
)


def plain(value: Any) -> Any:
    """A value as JSON can hold it: decimals, UUIDs and times as strings."""
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value
