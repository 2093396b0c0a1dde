"""The delivery queue in SQL: take new events in, claim an endpoint, record attempts.

Every function runs in the caller's transaction. Instances share the work through
PostgreSQL alone: one of them at a time takes new events in (a try-lock, the others go
on), and an endpoint is claimed with FOR UPDATE SKIP LOCKED and held by a lease that
each write of results renews. Results are written only while the lease is still ours.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.viewer import Viewer
from app.db.events import events
from app.db.webhooks import webhook_deliveries, webhooks
from app.events import event_log
from app.events.records import Event
from app.webhooks import topics

ENQUEUE_LOCK = 0x776562686F6F6B  # "webhook"


def message_id(webhook_id: uuid.UUID, position: int) -> str:
    """The `webhook-id` of an event's message to an endpoint: the same on every attempt,
    redelivery and replay, so receivers can de-duplicate."""
    return f"msg_{uuid.uuid5(webhook_id, str(position)).hex}"


async def enqueue(conn: AsyncConnection, *, batch: int = 1000) -> int:
    """Queue the events each endpoint has not taken in yet (up to `batch` each); the
    number of log positions read. 0 when there is nothing new, or when another
    instance is doing this right now."""
    locked = await conn.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ENQUEUE_LOCK}
    )
    if not locked:
        return 0
    _, last = await event_log.bounds(conn)
    rows = (
        await conn.execute(
            text(
                """
                SELECT w.id, w.cursor, w.events, w.filter, w.owner_id, u.role
                FROM webhooks w JOIN users u ON u.id = w.owner_id
                WHERE w.cursor < :last
                """
            ),
            {"last": last},
        )
    ).all()
    read = 0
    for row in rows:
        found = await event_log.read_after(conn, row.cursor, limit=batch)
        if not found:
            continue
        viewer = Viewer(user_id=row.owner_id, role=row.role)
        filter = topics.Filter.from_json(row.filter)
        values = [
            {
                "webhook_id": row.id,
                "message_id": message_id(row.id, event.position),
                "event_position": event.position,
                "event_type": topics.event_type(event),
            }
            for event in found
            if topics.wanted(event, events=row.events, filter=filter, viewer=viewer)
        ]
        if values:
            await conn.execute(insert(webhook_deliveries), values)
        await conn.execute(
            update(webhooks).where(webhooks.c.id == row.id).values(cursor=found[-1].position)
        )
        read += len(found)
    return read


@dataclass(frozen=True, slots=True)
class Claimed:
    """An endpoint this instance holds, with what sending to it needs."""

    id: uuid.UUID
    url: str
    query: str | None
    secrets: tuple[str, ...]
    owner: Viewer
    consecutive_failures: int


_CLAIM = text(
    """
    UPDATE webhooks w
    SET claimed_by = :me, claimed_until = now() + make_interval(secs => :lease)
    FROM users u
    WHERE u.id = w.owner_id AND w.id IN (
      SELECT id FROM webhooks c
      WHERE c.state = 'active' AND c.next_attempt_at <= now()
        AND c.id <> ALL(CAST(:busy AS uuid[]))
        AND (c.claimed_until IS NULL OR c.claimed_until < now())
        AND (c.breaker_until IS NULL OR c.breaker_until <= now())
        AND EXISTS (SELECT 1 FROM webhook_deliveries d
                    WHERE d.webhook_id = c.id AND d.status = 'pending')
      ORDER BY c.next_attempt_at
      LIMIT :limit
      FOR UPDATE SKIP LOCKED
    )
    RETURNING w.id, w.url, w.query, w.secret, w.previous_secret,
              w.previous_secret_expires_at > now() AS previous_valid,
              w.consecutive_failures, w.owner_id, u.role
    """
)


async def claim(
    conn: AsyncConnection, *, me: str, lease: float, limit: int, busy: list[uuid.UUID]
) -> list[Claimed]:
    """Up to `limit` endpoints with messages due, now held by `me` for `lease` seconds;
    never one of `busy`, those `me` is working on already (its lease is the instance's,
    so a second turn of its own would renew it too, unnoticed)."""
    params = {"me": me, "lease": lease, "limit": limit, "busy": busy}
    rows = (await conn.execute(_CLAIM, params)).all()
    return [
        Claimed(
            id=row.id,
            url=row.url,
            query=row.query,
            secrets=(row.secret, row.previous_secret)
            if row.previous_secret and row.previous_valid
            else (row.secret,),
            owner=Viewer(user_id=row.owner_id, role=row.role),
            consecutive_failures=row.consecutive_failures,
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Pending:
    id: uuid.UUID
    message_id: str
    event_position: int | None
    event_type: str
    attempts: int


async def pending(conn: AsyncConnection, webhook_id: uuid.UUID, *, limit: int) -> list[Pending]:
    """The endpoint's next messages, in order."""
    d = webhook_deliveries.c
    rows = await conn.execute(
        select(d.id, d.message_id, d.event_position, d.event_type, d.attempts)
        .where(d.webhook_id == webhook_id, d.status == "pending")
        .order_by(d.seq)
        .limit(limit)
    )
    return [Pending(*row) for row in rows]


async def events_at(conn: AsyncConnection, positions: list[int]) -> dict[int, Event]:
    if not positions:
        return {}
    rows = await conn.execute(select(events).where(events.c.position.in_(positions)))
    return {row.position: Event.from_row(row) for row in rows}


async def _renew(
    conn: AsyncConnection, webhook_id: uuid.UUID, *, me: str, lease: float, **values: Any
) -> Any:
    """Renew our lease and set `values` on the endpoint; None when the lease is lost."""
    stmt = (
        update(webhooks)
        .where(webhooks.c.id == webhook_id, webhooks.c.claimed_by == me)
        .values(claimed_until=text("now() + make_interval(secs => :lease)"), **values)
        .returning(webhooks.c.failing_since, webhooks.c.consecutive_failures, text("now() AS now"))
    )
    return (await conn.execute(stmt, {"lease": lease})).one_or_none()


@dataclass(frozen=True, slots=True)
class Attempt:
    status_code: int | None
    latency_ms: int
    snippet: str | None
    error: str | None
    me: str
    at: datetime  # when the answer came (results may be written a moment later)


@dataclass(slots=True)
class Results:
    """What a turn has done and not yet written: messages that arrived, and messages
    given up without sending (their event left the log, or the owner may not see it)."""

    delivered: list[tuple[uuid.UUID, Attempt]] = field(default_factory=list)
    dropped: list[tuple[uuid.UUID, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.delivered or self.dropped)

    def clear(self) -> None:
        self.delivered.clear()
        self.dropped.clear()


_DELIVERED = text(
    """
    UPDATE webhook_deliveries d
    SET status = 'delivered', attempts = d.attempts + 1, last_attempt_at = r.at,
        delivered_at = r.at, last_status_code = r.code, last_latency_ms = r.latency,
        last_error = NULL, response_snippet = r.snippet, claimed_by = :me
    FROM unnest(CAST(:ids AS uuid[]), CAST(:codes AS int[]), CAST(:latencies AS int[]),
                CAST(:snippets AS text[]), CAST(:ats AS timestamptz[]))
         AS r(id, code, latency, snippet, at)
    WHERE d.id = r.id AND d.status = 'pending'
    """
)
_DROPPED = text(
    """
    UPDATE webhook_deliveries d SET status = 'failed', last_error = r.reason
    FROM unnest(CAST(:ids AS uuid[]), CAST(:reasons AS text[])) AS r(id, reason)
    WHERE d.id = r.id AND d.status = 'pending'
    """
)


async def record(
    conn: AsyncConnection, webhook_id: uuid.UUID, results: Results, *, me: str, lease: float
) -> bool:
    """Write a turn's results in one go, renewing the lease; False (nothing written)
    when the lease was lost: those messages are then sent again, at least once. A
    delivered message makes the endpoint healthy again."""
    healthy: dict[str, Any] = {}
    if results.delivered:
        healthy = {
            "consecutive_failures": 0,
            "failing_since": None,
            "breaker_until": None,
            "next_attempt_at": text("now()"),
        }
    if await _renew(conn, webhook_id, me=me, lease=lease, **healthy) is None:
        return False
    if results.delivered:
        attempts = [attempt for _, attempt in results.delivered]
        await conn.execute(
            _DELIVERED,
            {
                "me": me,
                "ids": [delivery for delivery, _ in results.delivered],
                "codes": [a.status_code for a in attempts],
                "latencies": [a.latency_ms for a in attempts],
                "snippets": [a.snippet for a in attempts],
                "ats": [a.at for a in attempts],
            },
        )
    if results.dropped:
        await conn.execute(
            _DROPPED,
            {
                "ids": [delivery for delivery, _ in results.dropped],
                "reasons": [reason for _, reason in results.dropped],
            },
        )
    return True


@dataclass(frozen=True, slots=True)
class Failure:
    failures: int
    failing_since: datetime
    now: datetime


async def record_failure(
    conn: AsyncConnection,
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    attempt: Attempt,
    *,
    lease: float,
) -> Failure | None:
    """Count a failed attempt; None when our lease was lost. The caller decides the next
    attempt (`retry_at`) or gives up (`give_up`) in the same transaction."""
    held = await _renew(
        conn,
        webhook_id,
        me=attempt.me,
        lease=lease,
        consecutive_failures=webhooks.c.consecutive_failures + 1,
        failing_since=text("coalesce(failing_since, now())"),
    )
    if held is None:
        return None
    await _record(conn, delivery_id, attempt)
    return Failure(held.consecutive_failures, held.failing_since, held.now)


async def retry_at(
    conn: AsyncConnection,
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    *,
    at: datetime,
    breaker_until: datetime | None,
) -> None:
    values: dict[str, Any] = {"next_attempt_at": at}
    if breaker_until is not None:
        values["breaker_until"] = breaker_until
    await conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))
    await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(next_attempt_at=at)
    )


async def give_up(
    conn: AsyncConnection, webhook_id: uuid.UUID, delivery_id: uuid.UUID, *, reason: str
) -> None:
    """Mark the message failed (the dead letters redeliverWebhook sends again) and stop
    the endpoint until resumeWebhook. Messages dropped without sending are written with
    a turn's results (`record`)."""
    await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(status="failed", last_error=reason)
    )
    await conn.execute(
        update(webhooks)
        .where(webhooks.c.id == webhook_id)
        .values(state="disabled", disabled_reason=reason, updated_at=text("now()"))
    )


async def _record(conn: AsyncConnection, delivery_id: uuid.UUID, attempt: Attempt) -> None:
    await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.status == "pending")
        .values(
            attempts=webhook_deliveries.c.attempts + 1,
            last_attempt_at=attempt.at,
            last_status_code=attempt.status_code,
            last_latency_ms=attempt.latency_ms,
            last_error=attempt.error,
            response_snippet=attempt.snippet,
            claimed_by=attempt.me,
        )
    )


async def release(conn: AsyncConnection, webhook_id: uuid.UUID, *, me: str) -> None:
    await conn.execute(
        update(webhooks)
        .where(webhooks.c.id == webhook_id, webhooks.c.claimed_by == me)
        .values(claimed_by=None, claimed_until=None)
    )
