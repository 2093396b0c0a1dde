"""Erasing a person: the rules (who may, the confirmation), and the scrub itself.

    erase_user(conn, actor=..., user_id=..., confirm=...)  -> Erased
    reapply_erasure(conn, user_id)                          restore's reapplier

What erasure changes, in one transaction:
- users: email and name become a pseudonym derived from the id (`pseudonym`), the role
  `user`, the address unverified; the row stays, so orders keep their owner.
- user_identities: the person's bindings are removed (a JWT can no longer be theirs).
- api_tokens: every token revoked, its name (chosen by the person) reset.
- order_requests: their idempotency records deleted (client-chosen keys).
- outbox and events: the email and name in the user's snapshots replaced by the pseudonym.
- audit_events: through redact_audit_person (migration 0007), the only UPDATE the
  database allows: the named personal fields of the events about the person and their
  tokens, and the address and user agent of the events they made. It audits itself.
- erased_users: a ledger row (id and time), and a `user.erased` audit event naming who
  asked and the pseudonymous id, nothing else.
After the commit the caller scrubs cached values (`Erased.needles`) and forgets the
person's cached credentials; that is done by the GraphQL layer, which owns them.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import orjson
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.auth.viewer import RequestMeta
from app.db.erasures import erased_users
from app.db.identity import api_tokens
from app.db.orders import order_requests
from app.db.user_identities import user_identities
from app.db.users import users
from app.errors import InvalidInput, NotFound
from app.queries.users import COLUMNS, UserRecord
from app.services import audit
from app.services.audit import CLI, Actor
from app.services.outbox import emit

ERASED_DOMAIN = "erased.invalid"
ERASED_TOKEN_NAME = "API token"
# The fields of a user's audit events that identify them; redact_audit_person allows these.
PERSONAL_FIELDS = ("email", "name", "identity")
_PSEUDONYM_CONTEXT = b"ordergraph erased user v1"


@dataclass(frozen=True, slots=True)
class Pseudonym:
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class Erased:
    """An erased user, and the values that identified them (to scrub caches with; never
    to be logged or returned)."""

    user: UserRecord
    needles: tuple[str, ...]


def pseudonym(user_id: uuid.UUID) -> Pseudonym:
    """The stand-in email and name of an erased user: the same for the same id, on every
    instance and after every restore, and nothing that leads back to the person."""
    digest = hashlib.sha256(_PSEUDONYM_CONTEXT + user_id.bytes).hexdigest()
    return Pseudonym(
        email=f"erased-{digest[:24]}@{ERASED_DOMAIN}", name=f"Erased user {digest[:8]}"
    )


async def erase_user(
    conn: AsyncConnection, *, actor: Actor, user_id: uuid.UUID, confirm: str | None
) -> Erased:
    """Erase user_id, on their own request (`confirm` must be their email) or an admin's.

    NotFound for a user the actor may not act for; InvalidInput CONFIRMATION_MISMATCH on
    `confirm`, CONFIRMATION_REQUIRED (one's own erasure without it) or ALREADY_ERASED on
    `id`.
    """
    if not policy.can_act_for(actor.viewer, user_id):
        policy.require_user(actor.viewer, to="erase personal data")
        raise NotFound("No user with this id.", field="id")
    row = (
        await conn.execute(select(*COLUMNS).where(users.c.id == user_id).with_for_update())
    ).first()
    if row is None:
        raise NotFound("No user with this id.", field="id")
    if await conn.scalar(select(erased_users.c.user_id).where(erased_users.c.user_id == user_id)):
        raise InvalidInput.one("id", "ALREADY_ERASED", "This user's data was erased already.")
    if actor.user_id == user_id and confirm is None:
        raise InvalidInput.one(
            "id",
            "CONFIRMATION_REQUIRED",
            "To erase your own data use eraseMyData, with your email address as confirm.",
        )
    if actor.user_id == user_id and (confirm or "").strip().lower() != row.email:
        raise InvalidInput.one(
            "confirm",
            "CONFIRMATION_MISMATCH",
            "Type the email address of your account to confirm; erasure cannot be undone.",
        )
    if actor.user_id == user_id:
        # The record of the erasure must not keep where the person asked from.
        actor = Actor(
            viewer=actor.viewer, kind=actor.kind, meta=RequestMeta(request_id=actor.meta.request_id)
        )
    erased = await scrub_person(conn, actor=actor, user_id=user_id)
    assert erased is not None  # the row is locked above
    await conn.execute(pg_insert(erased_users).values(user_id=user_id).on_conflict_do_nothing())
    await audit.record(
        conn,
        actor=actor,
        action="user.erased",
        entity_type="User",
        entity_id=user_id,
        changes={"erased": {"before": None, "after": True}},
    )
    return erased


async def reapply_erasure(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    """Erase user_id again in a restored database (app.backup.erasures' reapplier); the
    restore records the ledger row. A user the backup does not hold needs nothing."""
    if await scrub_person(conn, actor=CLI, user_id=user_id) is not None:
        await audit.record(
            conn,
            actor=CLI,
            action="user.erasure_reapplied",
            entity_type="User",
            entity_id=user_id,
            changes={"erased": {"before": None, "after": True}},
        )


async def scrub_person(conn: AsyncConnection, *, actor: Actor, user_id: uuid.UUID) -> Erased | None:
    """Pseudonymise user_id and scrub them everywhere in the database (see the module's
    docstring); None when there is no such user."""
    before = (
        await conn.execute(select(users.c.email, users.c.name).where(users.c.id == user_id))
    ).first()
    if before is None:
        return None
    alias = pseudonym(user_id)
    old_emails = await _past_values(conn, user_id, "email")
    old_names = await _past_values(conn, user_id, "name")
    row = (
        await conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                email=alias.email,
                name=alias.name,
                role="user",
                email_verified_at=None,
                version=users.c.version + 1,
                updated_at=func.now(),
            )
            .returning(*COLUMNS)
        )
    ).one()
    await conn.execute(delete(user_identities).where(user_identities.c.user_id == user_id))
    token_ids = list(
        await conn.scalars(
            update(api_tokens)
            .where(api_tokens.c.user_id == user_id)
            .values(
                revoked_at=func.coalesce(api_tokens.c.revoked_at, func.now()),
                name=ERASED_TOKEN_NAME,
            )
            .returning(api_tokens.c.id)
        )
    )
    await conn.execute(delete(order_requests).where(order_requests.c.user_id == user_id))
    replacement = {"email": alias.email, "name": alias.name}
    for table in ("outbox", "events"):
        await conn.execute(
            text(
                f"UPDATE {table} SET data = data || CAST(:replacement AS jsonb) "
                "WHERE topic = 'user' AND entity_id = :user_id"
            ),
            {"replacement": orjson.dumps(replacement).decode(), "user_id": user_id},
        )
    await _redact_audit(
        conn,
        actor=actor,
        person=user_id,
        entities=[user_id],
        replacement={**replacement, "identity": "[erased]"},
    )
    if token_ids:
        await _redact_audit(
            conn,
            actor=actor,
            person=user_id,
            entities=token_ids,
            replacement={"name": ERASED_TOKEN_NAME},
        )
    user = UserRecord(*row)
    await emit(
        conn,
        topic="user",
        type="UPDATED",
        entity_id=user_id,
        owner_id=user_id,
        data=row._mapping,
        changed_fields=["email", "name", "role"],
    )
    needles = {before.email, before.name, *old_emails, *old_names} - {"", alias.email, alias.name}
    return Erased(user=user, needles=tuple(sorted(needles)))


async def _past_values(conn: AsyncConnection, user_id: uuid.UUID, field: str) -> list[str]:
    """Every value the user's audit trail shows for `field` (old emails and names too),
    so cached copies of those are found as well."""
    values = await conn.scalars(
        text(
            "SELECT DISTINCT v FROM audit_events a, "
            "LATERAL (VALUES (a.changes->:field->>'before'), (a.changes->:field->>'after')) "
            "AS x(v) WHERE a.entity_id = :user_id AND a.entity_type = 'User' AND v IS NOT NULL"
        ),
        {"field": field, "user_id": user_id},
    )
    return list(values)


async def _redact_audit(
    conn: AsyncConnection,
    *,
    actor: Actor,
    person: uuid.UUID,
    entities: list[uuid.UUID],
    replacement: dict[str, str],
) -> int:
    redacted: int = await conn.scalar(
        text(
            "SELECT redact_audit_person(:person, CAST(:entities AS uuid[]), "
            "CAST(:fields AS text[]), CAST(:replacement AS jsonb), :actor, :actor_kind)"
        ),
        {
            "person": person,
            "entities": entities,
            "fields": list(replacement),
            "replacement": orjson.dumps(replacement).decode(),
            "actor": actor.user_id,
            "actor_kind": actor.kind,
        },
    )
    return redacted
