"""A person's data as one machine-readable JSON document, written as it is read.

    {"format": "ordergraph.personal-data/1", "exportedAt": ..., "user": {...},
     "identities": [...], "apiTokens": [...], "orders": [{..., "items": [...]}],
     "auditEvents": [...], "events": [...]}

Everything is read in one REPEATABLE READ, READ ONLY transaction, so the parts agree
with each other; orders, audit events and events are read in keyset batches and written
out batch by batch. What it holds about the person: their profile, identity bindings,
token metadata (never the hash), their orders with items, the audit events about them
(their user, tokens and orders) and by them, and the events of the event log about them
(their user and their orders). Nothing about anyone else: an audit event they made about
someone else's record (an admin's work) keeps its action, entity and time, not its values;
one someone else made about theirs keeps what was done, not who did it or from where.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth.api_tokens import TOKEN_COLUMNS
from app.db.audit import audit_events
from app.db.engine import connect
from app.db.events import events
from app.db.identity import api_tokens
from app.db.orders import order_items, orders
from app.db.user_identities import user_identities
from app.db.users import users
from app.errors import NotFound
from app.queries.users import COLUMNS
from app.services.audit import plain

FORMAT = "ordergraph.personal-data/1"
BATCH = 500


async def personal_data(
    engine: AsyncEngine, user_id: uuid.UUID, *, batch: int = BATCH
) -> AsyncIterator[bytes]:
    """The document's bytes. The first chunk is read before anything is yielded, so a
    missing user is NotFound before a response starts."""
    async with connect(engine) as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            profile = (await conn.execute(select(*COLUMNS).where(users.c.id == user_id))).first()
            if profile is None:
                raise NotFound("No user with this id.", field="id")
            yield _head(profile._mapping)
            yield b',"identities":'
            yield _array(await _identities(conn, user_id))
            tokens = (
                await conn.execute(
                    select(*TOKEN_COLUMNS)
                    .where(api_tokens.c.user_id == user_id)
                    .order_by(api_tokens.c.created_at, api_tokens.c.id)
                )
            ).all()
            yield b',"apiTokens":'
            yield _array(dict(row._mapping) for row in tokens)
            order_ids: list[uuid.UUID] = []
            yield b',"orders":['
            first = True
            async for page in _orders(conn, user_id, batch=batch):
                order_ids += [order["id"] for order in page]
                for order in page:
                    yield (b"" if first else b",") + _json(order)
                    first = False
            yield b'],"auditEvents":['
            own = {user_id, *(row.id for row in tokens), *order_ids}
            first = True
            async for rows in _audit(conn, user_id, own, batch=batch):
                for row in rows:
                    yield (b"" if first else b",") + _json(row)
                    first = False
            yield b'],"events":['
            first = True
            async for rows in _events(conn, user_id, batch=batch):
                for row in rows:
                    yield (b"" if first else b",") + _json(row)
                    first = False
            yield b"]}\n"


def _head(profile: Any) -> bytes:
    head = _json({"format": FORMAT, "exportedAt": datetime.now(UTC), "user": dict(profile)})
    return head[:-1]  # the object stays open for the parts that follow


async def _identities(conn: AsyncConnection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(
            user_identities.c.issuer,
            user_identities.c.subject,
            user_identities.c.email_at_binding,
            user_identities.c.created_at,
            user_identities.c.last_seen_at,
        )
        .where(user_identities.c.user_id == user_id)
        .order_by(user_identities.c.created_at)
    )
    return [dict(row._mapping) for row in rows]


async def _orders(
    conn: AsyncConnection, user_id: uuid.UUID, *, batch: int
) -> AsyncIterator[list[dict[str, Any]]]:
    after: tuple[Any, Any] | None = None
    while True:
        stmt = select(orders).where(orders.c.user_id == user_id)
        if after is not None:
            stmt = stmt.where(tuple_(orders.c.created_at, orders.c.id) > after)
        rows = (
            await conn.execute(stmt.order_by(orders.c.created_at, orders.c.id).limit(batch))
        ).all()
        if not rows:
            return
        items: dict[uuid.UUID, list[dict[str, Any]]] = {row.id: [] for row in rows}
        for item in await conn.execute(
            select(order_items)
            .where(order_items.c.order_id.in_(list(items)))
            .order_by(order_items.c.order_id, order_items.c.line)
        ):
            items[item.order_id].append(dict(item._mapping))
        yield [{**row._mapping, "items": items[row.id]} for row in rows]
        after = (rows[-1].created_at, rows[-1].id)


async def _audit(
    conn: AsyncConnection, user_id: uuid.UUID, own: set[uuid.UUID], *, batch: int
) -> AsyncIterator[list[dict[str, Any]]]:
    about = audit_events.c.entity_id.in_(list(own))
    stmt = select(audit_events).where(or_(about, audit_events.c.actor_id == user_id))
    key = (audit_events.c.occurred_at, audit_events.c.id)
    after: tuple[Any, Any] | None = None
    while True:
        page = stmt if after is None else stmt.where(tuple_(*key) > after)
        rows = (await conn.execute(page.order_by(*key).limit(batch))).all()
        if not rows:
            return
        yield [_audit_record(row, user_id, own) for row in rows]
        after = (rows[-1].occurred_at, rows[-1].id)


def _audit_record(row: Any, user_id: uuid.UUID, own: set[uuid.UUID]) -> dict[str, Any]:
    record = dict(row._mapping)
    if row.entity_id not in own:
        # Their action on someone else's record: what and when, not its values.
        record["changes"] = None
    if row.actor_id != user_id:
        # Someone else's action on theirs (an admin's): what, not who or from where.
        record.update(actor_id=None, client_addr=None, user_agent=None)
    return record


async def _events(
    conn: AsyncConnection, user_id: uuid.UUID, *, batch: int
) -> AsyncIterator[list[dict[str, Any]]]:
    concern = or_(
        and_(events.c.topic == "user", events.c.entity_id == user_id),
        and_(events.c.topic == "order", events.c.owner_id == user_id),
    )
    position: int = 0
    while True:
        rows = (
            await conn.execute(
                select(events)
                .where(concern, events.c.position > position)
                .order_by(events.c.position)
                .limit(batch)
            )
        ).all()
        if not rows:
            return
        yield [dict(row._mapping) for row in rows]
        position = rows[-1].position


def _array(records: Iterable[dict[str, Any]]) -> bytes:
    return _json(list(records))


def _json(value: Any) -> bytes:
    return orjson.dumps(plain(_camel(value)))


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            _camel_key(str(k)): _camel(v) if k != "changes" and k != "data" else v
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _camel_key(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
