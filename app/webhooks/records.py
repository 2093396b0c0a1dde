"""Webhooks and deliveries as read back: records, pages and counts for the connections."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.webhooks import webhook_deliveries, webhooks
from app.queries.keyset import Page, SortKey, Window, apply_window, to_page


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    id: uuid.UUID
    owner_id: uuid.UUID
    url: str
    events: list[str]
    filter: dict[str, Any]
    query: str | None
    state: str
    disabled_reason: str | None
    failing_since: datetime | None
    consecutive_failures: int
    breaker_until: datetime | None
    previous_secret_expires_at: datetime | None
    cursor: int
    created_at: datetime
    updated_at: datetime


WEBHOOK_COLUMNS = [getattr(webhooks.c, name) for name in WebhookRecord.__dataclass_fields__]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: uuid.UUID
    webhook_id: uuid.UUID
    message_id: str
    event_position: int | None
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    response_snippet: str | None
    delivered_at: datetime | None
    created_at: datetime


DELIVERY_COLUMNS = [
    getattr(webhook_deliveries.c, name) for name in DeliveryRecord.__dataclass_fields__
]
SORT_KEYS = {"CREATED_AT": SortKey("CREATED_AT", "created_at", datetime)}


@dataclass(frozen=True, slots=True)
class DeliveryWhere:
    webhook_id: uuid.UUID | None = None
    status: str | None = None


async def webhook_by_id(conn: AsyncConnection, webhook_id: uuid.UUID) -> WebhookRecord | None:
    row = (
        await conn.execute(select(*WEBHOOK_COLUMNS).where(webhooks.c.id == webhook_id))
    ).one_or_none()
    return WebhookRecord(*row) if row else None


async def delivery_by_id(conn: AsyncConnection, delivery_id: uuid.UUID) -> DeliveryRecord | None:
    stmt = select(*DELIVERY_COLUMNS).where(webhook_deliveries.c.id == delivery_id)
    row = (await conn.execute(stmt)).one_or_none()
    return DeliveryRecord(*row) if row else None


def _in_state(state: str | None) -> list[ColumnElement[bool]]:
    return [] if state is None else [webhooks.c.state == state]


async def webhook_page(
    conn: AsyncConnection, *, where: str | None, window: Window
) -> Page[WebhookRecord]:
    """A page of endpoints; `where`: only those in this state."""
    stmt = apply_window(select(*WEBHOOK_COLUMNS).where(*_in_state(where)), webhooks, window)
    return to_page([WebhookRecord(*row) for row in await conn.execute(stmt)], window)


async def count_webhooks(conn: AsyncConnection, *, where: str | None) -> int:
    stmt = select(func.count()).select_from(webhooks).where(*_in_state(where))
    return int((await conn.execute(stmt)).scalar_one())


def _conditions(where: DeliveryWhere | None) -> list[ColumnElement[bool]]:
    result: list[ColumnElement[bool]] = []
    if where is not None and where.webhook_id is not None:
        result.append(webhook_deliveries.c.webhook_id == where.webhook_id)
    if where is not None and where.status is not None:
        result.append(webhook_deliveries.c.status == where.status)
    return result


async def delivery_page(
    conn: AsyncConnection, *, where: DeliveryWhere | None, window: Window
) -> Page[DeliveryRecord]:
    stmt = apply_window(
        select(*DELIVERY_COLUMNS).where(*_conditions(where)), webhook_deliveries, window
    )
    return to_page([DeliveryRecord(*row) for row in await conn.execute(stmt)], window)


async def count_deliveries(conn: AsyncConnection, *, where: DeliveryWhere | None) -> int:
    stmt = select(func.count()).select_from(webhook_deliveries).where(*_conditions(where))
    return int((await conn.execute(stmt)).scalar_one())
