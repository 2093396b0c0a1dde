"""The rules for webhooks: who may manage them, what a registration must hold, and the
writes (each in the caller's transaction, audited; a secret is never in the trail)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from graphql import GraphQLSchema
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.auth.viewer import Viewer
from app.db.webhooks import webhook_deliveries, webhooks
from app.errors import InvalidInput, NotFound
from app.events import event_log
from app.services import audit
from app.services.audit import Actor
from app.webhooks import payloads, queue, signing, ssrf, topics
from app.webhooks.records import (
    DELIVERY_COLUMNS,
    WEBHOOK_COLUMNS,
    DeliveryRecord,
    WebhookRecord,
    delivery_by_id,
)

MAX_REPLAY = 100_000


@dataclass(frozen=True, slots=True)
class Registration:
    url: str
    events: tuple[str, ...]
    filter: topics.Filter
    query: str | None


@dataclass(frozen=True, slots=True)
class Checks:
    """What registration checks against: the schema, and the target rules."""

    schema: GraphQLSchema
    require_https: bool
    allow_private: bool


def admin(actor: Actor, *, to: str) -> uuid.UUID:
    return policy.require_admin(actor.viewer, to=to)


async def check_registration(data: Registration, checks: Checks) -> None:
    """INVALID_INPUT naming the field: a URL that is not allowed or does not resolve to
    an allowed address, unknown events, a document that is not valid or about other
    events than those asked for."""
    try:
        target = ssrf.check_url(data.url, require_https=checks.require_https)
        await ssrf.resolve(target, allow_private=checks.allow_private)
    except ssrf.RefusedTarget as exc:
        raise InvalidInput.one("url", exc.code, exc.message) from None
    if not data.events:
        raise InvalidInput.one("events", "REQUIRED", "Name at least one event type.")
    unknown = sorted(set(data.events) - set(topics.EVENT_TYPES))
    if unknown:
        raise InvalidInput.one(
            "events", "UNKNOWN_EVENT", f"Unknown event types: {', '.join(unknown)}."
        )
    if data.query is not None:
        topic = payloads.check_document(checks.schema, data.query)
        others = sorted(name for name in data.events if not name.startswith(topic + "."))
        if others:
            raise InvalidInput.one(
                "events",
                "EVENT_NOT_IN_DOCUMENT",
                f"The document is about {topic} events; it cannot shape {', '.join(others)}.",
            )


async def create_webhook(
    conn: AsyncConnection, *, actor: Actor, data: Registration, checks: Checks
) -> tuple[str, WebhookRecord]:
    """(the signing secret, shown once; the endpoint). It receives events committed
    from now on."""
    owner_id = admin(actor, to="manage webhooks")
    await check_registration(data, checks)
    secret = signing.new_secret()
    _, last = await event_log.bounds(conn)
    row = (
        await conn.execute(
            insert(webhooks)
            .values(
                owner_id=owner_id,
                url=data.url,
                events=list(data.events),
                filter=data.filter.to_json(),
                query=data.query,
                secret=secret,
                cursor=last,
            )
            .returning(*WEBHOOK_COLUMNS)
        )
    ).one()
    record = WebhookRecord(*row)
    await _audit(conn, actor, "webhook.created", record.id, None, record)
    return secret, record


async def _locked(conn: AsyncConnection, webhook_id: uuid.UUID) -> WebhookRecord:
    row = (
        await conn.execute(
            select(*WEBHOOK_COLUMNS).where(webhooks.c.id == webhook_id).with_for_update()
        )
    ).one_or_none()
    if row is None:
        raise NotFound("No webhook with this id.", field="id")
    return WebhookRecord(*row)


async def _set(conn: AsyncConnection, webhook_id: uuid.UUID, **values: object) -> WebhookRecord:
    row = (
        await conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook_id)
            .values(updated_at=text("now()"), **values)
            .returning(*WEBHOOK_COLUMNS)
        )
    ).one()
    return WebhookRecord(*row)


async def update_webhook(
    conn: AsyncConnection,
    *,
    actor: Actor,
    webhook_id: uuid.UUID,
    url: str | None,
    events: Sequence[str] | None,
    filter: topics.Filter | None,
    query: str | None,
    clear_query: bool,
    checks: Checks,
) -> WebhookRecord:
    admin(actor, to="manage webhooks")
    before = await _locked(conn, webhook_id)
    data = Registration(
        url=url if url is not None else before.url,
        events=tuple(events) if events is not None else tuple(before.events),
        filter=filter if filter is not None else topics.Filter.from_json(before.filter),
        query=None if clear_query else (query if query is not None else before.query),
    )
    await check_registration(data, checks)
    record = await _set(
        conn,
        webhook_id,
        url=data.url,
        events=list(data.events),
        filter=data.filter.to_json(),
        query=data.query,
    )
    await _audit(conn, actor, "webhook.updated", webhook_id, before, record)
    return record


async def set_state(
    conn: AsyncConnection, *, actor: Actor, webhook_id: uuid.UUID, state: str
) -> WebhookRecord:
    """pause (deliveries wait, events still queue) or resume (also after disabling:
    failures forgotten, the breaker closed, the next message sent at once)."""
    admin(actor, to="manage webhooks")
    before = await _locked(conn, webhook_id)
    values: dict[str, object] = {"state": state}
    if state == "active":
        values.update(
            disabled_reason=None,
            failing_since=None,
            consecutive_failures=0,
            breaker_until=None,
            next_attempt_at=text("now()"),
        )
    record = await _set(conn, webhook_id, **values)
    action = "webhook.resumed" if state == "active" else "webhook.paused"
    await _audit(conn, actor, action, webhook_id, before, record)
    return record


async def delete_webhook(
    conn: AsyncConnection, *, actor: Actor, webhook_id: uuid.UUID
) -> WebhookRecord:
    admin(actor, to="manage webhooks")
    before = await _locked(conn, webhook_id)
    await conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
    await _audit(conn, actor, "webhook.deleted", webhook_id, before, None)
    return before


async def rotate_secret(
    conn: AsyncConnection, *, actor: Actor, webhook_id: uuid.UUID, grace_seconds: float
) -> tuple[str, WebhookRecord]:
    """A new secret, shown once; the old one signs too for `grace_seconds`."""
    admin(actor, to="manage webhooks")
    before = await _locked(conn, webhook_id)
    secret = signing.new_secret()
    record = await _set(
        conn,
        webhook_id,
        secret=secret,
        previous_secret=webhooks.c.secret,
        previous_secret_expires_at=text("now() + make_interval(secs => :grace)").bindparams(
            grace=grace_seconds
        ),
    )
    await _audit(conn, actor, "webhook.secret_rotated", webhook_id, before, record)
    return secret, record


async def _queue(
    conn: AsyncConnection, webhook_id: uuid.UUID, values: list[dict[str, object]]
) -> list[DeliveryRecord]:
    if not values:
        return []
    rows = await conn.execute(
        insert(webhook_deliveries)
        .values([{"webhook_id": webhook_id, **value} for value in values])
        .returning(*DELIVERY_COLUMNS)
    )
    return [DeliveryRecord(*row) for row in rows]


async def ping_webhook(
    conn: AsyncConnection, *, actor: Actor, webhook_id: uuid.UUID
) -> DeliveryRecord:
    """Queue a webhook.ping message (after what is queued already)."""
    admin(actor, to="manage webhooks")
    await _locked(conn, webhook_id)
    message: dict[str, object] = {"message_id": signing.new_message_id(), "event_type": topics.PING}
    return (await _queue(conn, webhook_id, [message]))[0]


async def redeliver(
    conn: AsyncConnection, *, actor: Actor, delivery_id: uuid.UUID
) -> DeliveryRecord:
    """Queue the message of a delivery again, with its `webhook-id`."""
    admin(actor, to="manage webhooks")
    found = await delivery_by_id(conn, delivery_id)
    if found is None:
        raise NotFound("No webhook delivery with this id.", field="deliveryId")
    await _locked(conn, found.webhook_id)
    message: dict[str, object] = {
        "message_id": found.message_id,
        "event_position": found.event_position,
        "event_type": found.event_type,
    }
    return (await _queue(conn, found.webhook_id, [message]))[0]


async def replay(conn: AsyncConnection, *, actor: Actor, webhook_id: uuid.UUID, after: int) -> int:
    """Queue again every event after position `after` the endpoint has taken in and still
    wants (its events, filter and owner's rights now), in order; how many."""
    admin(actor, to="manage webhooks")
    record = await _locked(conn, webhook_id)
    owner = (
        await conn.execute(text("SELECT role FROM users WHERE id = :id"), {"id": record.owner_id})
    ).scalar_one()
    viewer = Viewer(user_id=record.owner_id, role=owner)
    filter = topics.Filter.from_json(record.filter)
    position, queued = after, 0
    while position < record.cursor:
        batch = await event_log.read_after(conn, position, until=record.cursor)
        if not batch:
            break
        values: list[dict[str, object]] = [
            {
                "message_id": queue.message_id(webhook_id, event.position),
                "event_position": event.position,
                "event_type": topics.event_type(event),
            }
            for event in batch
            if topics.wanted(event, events=record.events, filter=filter, viewer=viewer)
        ]
        queued += len(await _queue(conn, webhook_id, values))
        if queued > MAX_REPLAY:
            raise InvalidInput.one(
                "after", "TOO_MANY", f"A replay queues at most {MAX_REPLAY} messages."
            )
        position = batch[-1].position
    return queued


def _shown(record: WebhookRecord | None) -> dict[str, object] | None:
    if record is None:
        return None
    return {"url": record.url, "events": record.events, "state": record.state}


async def _audit(
    conn: AsyncConnection,
    actor: Actor,
    action: str,
    webhook_id: uuid.UUID,
    before: WebhookRecord | None,
    after: WebhookRecord | None,
) -> None:
    await audit.record(
        conn,
        actor=actor,
        action=action,
        entity_type="Webhook",
        entity_id=webhook_id,
        changes=audit.diff(_shown(before), _shown(after), ("url", "events", "state")),
    )
