"""JWT identities: the user an (issuer, subject) is bound to, and binding it on first use.

The binding, not the email claim, says who a JWT is. An unbound identity is bound through
its email only when ordergraph trusts that address too (users.email_verified_at: an admin
or the seed set it, not the user themselves), and only to a user with no identity from
the same issuer yet. A later email change, here or at the provider, moves no binding.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.viewer import Viewer
from app.db.user_identities import user_identities
from app.db.users import users
from app.services import audit


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the identity provider says signed in: its `iss` and its `sub` there."""

    issuer: str
    subject: str


@dataclass(frozen=True, slots=True)
class BoundUser:
    user_id: uuid.UUID
    role: str
    last_seen_at: datetime


class Refusal(enum.Enum):
    """Why an unbound identity was not bound."""

    NO_USER = "no user has this email"
    EMAIL_NOT_TRUSTED = "the user's email was set by the user and not confirmed by an admin"
    ISSUER_TAKEN = "the user already has another identity from this issuer"


async def find_bound_user(conn: AsyncConnection, identity: Identity) -> BoundUser | None:
    row = (
        await conn.execute(
            select(user_identities.c.user_id, users.c.role, user_identities.c.last_seen_at)
            .join(users, users.c.id == user_identities.c.user_id)
            .where(
                user_identities.c.issuer == identity.issuer,
                user_identities.c.subject == identity.subject,
            )
        )
    ).first()
    return BoundUser(*row) if row else None


async def touch_identity(conn: AsyncConnection, identity: Identity, *, now: datetime) -> None:
    await conn.execute(
        update(user_identities)
        .where(
            user_identities.c.issuer == identity.issuer,
            user_identities.c.subject == identity.subject,
        )
        .values(last_seen_at=now)
    )


async def bind_identity(
    conn: AsyncConnection, identity: Identity, *, email: str
) -> BoundUser | Refusal:
    """Bind `identity` to the user whose trusted email is `email`, in the caller's
    transaction; the user it is bound to (perhaps by a concurrent first sign-in), or why not.

    The user row is share-locked while the binding is made, so an email change that
    commits first is seen (and binds nothing), and one that comes later waits.
    """
    candidate = (
        select(
            literal(identity.issuer),
            literal(identity.subject),
            users.c.id,
            literal(email),
        )
        .where(users.c.email == email, users.c.email_verified_at.is_not(None))
        .with_for_update(read=True)
    )
    # Both unique keys may conflict: this identity bound by a concurrent sign-in, or the
    # user bound to another subject of this issuer. Either way, nothing is inserted here.
    inserted = (
        await conn.execute(
            insert(user_identities)
            .from_select(["issuer", "subject", "user_id", "email_at_binding"], candidate)
            .on_conflict_do_nothing()
            .returning(user_identities.c.user_id)
        )
    ).scalar_one_or_none()
    bound = await find_bound_user(conn, identity)
    if bound is not None:
        if inserted is not None:
            await _record_binding(conn, identity, bound, email=email)
        return bound
    return await _refusal(conn, identity, email=email)


async def _refusal(conn: AsyncConnection, identity: Identity, *, email: str) -> Refusal:
    row = (
        await conn.execute(
            select(
                users.c.email_verified_at,
                exists().where(
                    user_identities.c.user_id == users.c.id,
                    user_identities.c.issuer == identity.issuer,
                ),
            ).where(users.c.email == email)
        )
    ).first()
    if row is None:
        return Refusal.NO_USER
    verified_at, has_identity = row
    if verified_at is None:
        return Refusal.EMAIL_NOT_TRUSTED
    if has_identity:
        return Refusal.ISSUER_TAKEN
    # The user's email changed between the insert and this look: nobody has it now.
    return Refusal.NO_USER


async def _record_binding(
    conn: AsyncConnection, identity: Identity, bound: BoundUser, *, email: str
) -> None:
    actor = audit.Actor(viewer=Viewer(user_id=bound.user_id, role=bound.role))
    await audit.record(
        conn,
        actor=actor,
        action="user.identity_bound",
        entity_type="User",
        entity_id=bound.user_id,
        changes={
            "identity": {
                "before": None,
                "after": {"issuer": identity.issuer, "subject": identity.subject, "email": email},
            }
        },
    )
