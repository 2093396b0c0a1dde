"""Reading the audit trail, newest first: the whole trail, or each object's history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.audit import audit_events
from app.queries.filters import TimeRange, one_of, time_range
from app.queries.keyset import Page, SortKey, Window, apply_window, to_page
from app.queries.lateral import PagesByParent


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_kind: str
    action: str
    entity_type: str
    entity_id: uuid.UUID
    changes: dict[str, Any]
    request_id: str | None
    client_addr: str | None
    user_agent: str | None


COLUMNS = [getattr(audit_events.c, name) for name in AuditRecord.__dataclass_fields__]


@dataclass(frozen=True, slots=True)
class AuditWhere:
    entity_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    action: str | None = None
    occurred_at: TimeRange | None = None
    # Authorization, not a client filter: actions this viewer may not see.
    hidden_actions: tuple[str, ...] = ()


SORT_KEYS = {"OCCURRED_AT": SortKey("OCCURRED_AT", "occurred_at", datetime)}


def conditions(where: AuditWhere | None) -> list[ColumnElement[bool]]:
    if where is None:
        return []
    result: list[ColumnElement[bool]] = []
    if where.entity_id is not None:
        result.append(audit_events.c.entity_id == where.entity_id)
    if where.actor_id is not None:
        result.append(audit_events.c.actor_id == where.actor_id)
    if where.action is not None:
        result.append(audit_events.c.action == where.action)
    result += time_range(audit_events.c.occurred_at, where.occurred_at, field="filter")
    if where.hidden_actions:
        result.append(audit_events.c.action.not_in(where.hidden_actions))
    return result


async def audit_events_by_id(
    conn: AsyncConnection, ids: Sequence[uuid.UUID]
) -> list[AuditRecord | None]:
    rows = await conn.execute(select(*COLUMNS).where(one_of(audit_events.c.id, ids)))
    found = {row[0]: AuditRecord(*row) for row in rows}
    return [found.get(event_id) for event_id in ids]


async def audit_page(
    conn: AsyncConnection, *, where: AuditWhere | None, window: Window
) -> Page[AuditRecord]:
    stmt = apply_window(select(*COLUMNS).where(*conditions(where)), audit_events, window)
    return to_page([AuditRecord(*row) for row in await conn.execute(stmt)], window)


async def count_audit(conn: AsyncConnection, *, where: AuditWhere | None) -> int:
    stmt = select(func.count()).select_from(audit_events).where(*conditions(where))
    return int((await conn.execute(stmt)).scalar_one())


# The history of many objects on one level: one LATERAL statement for every object's
# page, walking the (entity_id, occurred_at, id) index once per object.
_BY_ENTITY: PagesByParent[AuditWhere, AuditRecord] = PagesByParent(
    table=audit_events,
    columns=COLUMNS,
    parent=audit_events.c.entity_id,
    conditions=conditions,
    build=lambda row: AuditRecord(*row),
)


async def audit_pages_by_entity_id(
    conn: AsyncConnection,
    entity_ids: Sequence[uuid.UUID],
    *,
    where: AuditWhere | None,
    window: Window,
) -> list[Page[AuditRecord]]:
    """One page of each object's history, in one statement; `where` applies to all."""
    return await _BY_ENTITY.pages(conn, entity_ids, where=where, window=window)


async def count_audit_by_entity_id(
    conn: AsyncConnection, entity_ids: Sequence[uuid.UUID], *, where: AuditWhere | None
) -> list[int]:
    return await _BY_ENTITY.counts(conn, entity_ids, where=where)
