"""Creating, changing and deleting users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.db.orders import orders
from app.db.users import users
from app.errors import Forbidden, InvalidInput, NotFound
from app.queries.filters import one_of
from app.queries.users import COLUMNS, UserRecord
from app.services import audit
from app.services.audit import Actor
from app.services.bulk import Batch, BulkResult, Item, lock_rows
from app.services.changes import Change, record_change, record_changes
from app.services.validation import Email, Input, Name
from app.services.writes import invalid_from_constraint, locked_row

FIELDS = ("email", "name", "role")
_CONSTRAINTS = {
    "uq_users_email": ("email", "EMAIL_TAKEN", "Another user has this email."),
    "ck_users_name_length": ("name", "TOO_LONG", "Use 1 to 100 characters."),
}


class NewUser(Input):
    email: Email
    name: Name
    role: Literal["user", "admin"] = "user"


class UserChanges(Input):
    email: Email | None = None
    name: Name | None = None
    role: Literal["user", "admin"] | None = None


async def create_user(conn: AsyncConnection, *, actor: Actor, data: NewUser) -> UserRecord:
    policy.require_admin(actor.viewer, to="create users")
    try:
        row = (
            await conn.execute(
                # An admin vouches for the address they give (it may bind a JWT identity).
                insert(users)
                .values(**data.model_dump(), email_verified_at=func.now())
                .returning(*COLUMNS)
            )
        ).one()
    except IntegrityError as exc:
        raise invalid_from_constraint(exc, _CONSTRAINTS) or exc from None
    user = UserRecord(*row)
    await record_change(
        conn,
        actor=actor,
        action="user.created",
        topic="user",
        type="CREATED",
        entity_id=user.id,
        owner_id=user.id,
        data=row._mapping,
        changes=audit.diff(None, row._mapping, FIELDS),
    )
    return user


async def update_user(
    conn: AsyncConnection,
    *,
    actor: Actor,
    user_id: uuid.UUID,
    expected_version: int,
    changes: UserChanges,
) -> UserRecord:
    if not policy.can_act_for(actor.viewer, user_id):
        policy.require_user(actor.viewer, to="update users")
        raise NotFound("No user with this id.", field="id")
    values = changes.model_dump(exclude_none=True)
    if "role" in values and not actor.viewer.is_admin:
        raise Forbidden("Only admins may change a role.", field="role")
    before = await locked_row(
        conn, users, user_id, expected_version=expected_version, entity="user"
    )
    if "email" in values:
        values["email_verified_at"] = _email_verified_at(actor, before.email, values["email"])
    try:
        row = (
            await conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(**values, version=users.c.version + 1, updated_at=func.now())
                .returning(*COLUMNS)
            )
        ).one()
    except IntegrityError as exc:
        raise invalid_from_constraint(exc, _CONSTRAINTS) or exc from None
    user = UserRecord(*row)
    changed = audit.diff(before._mapping, row._mapping, FIELDS)
    await record_change(
        conn,
        actor=actor,
        action="user.updated",
        topic="user",
        type="UPDATED",
        entity_id=user_id,
        owner_id=user_id,
        data=row._mapping,
        changes=changed,
        changed_fields=changed,
    )
    return user


def _email_verified_at(actor: Actor, old: str, new: str) -> Any:
    """What users.email_verified_at becomes when `actor` sets the email from old to new.

    An admin's address is trusted, even one unchanged (that is how an admin confirms an
    address a user set). One a user gave themselves is not: it may be someone else's, and
    a trusted address is what binds a new JWT identity to this account.
    """
    if actor.viewer.is_admin:
        return func.now()
    return users.c.email_verified_at if new == old else None


async def delete_user(
    conn: AsyncConnection, *, actor: Actor, user_id: uuid.UUID, expected_version: int
) -> None:
    policy.require_admin(actor.viewer, to="delete users")
    before = await locked_row(
        conn, users, user_id, expected_version=expected_version, entity="user"
    )
    if await users_with_orders(conn, [user_id]):
        raise has_orders()
    await _delete(conn, actor=actor, rows=[before])


async def bulk_delete_users(
    conn: AsyncConnection, *, actor: Actor, batch: Batch[None]
) -> BulkResult[uuid.UUID]:
    """Delete many users with the rules of delete_user (no version: the ids say which),
    in a few statements whatever their number."""
    policy.require_admin(actor.viewer, to="delete users")
    attempt = batch.attempt()
    before = await lock_rows(conn, users, attempt.pks)
    attempt.require(before, entity="user")
    with_orders = await users_with_orders(conn, attempt.pks)

    def rule(item: Item[None]) -> None:
        if item.pk in with_orders:
            raise has_orders()

    attempt.check(rule)
    if not attempt.may_write:
        return attempt.result([])
    await _delete(conn, actor=actor, rows=[before[item.pk] for item in attempt.pending])
    return attempt.result([item.pk for item in attempt.pending])


def has_orders() -> InvalidInput:
    return InvalidInput.one(
        "id", "USER_HAS_ORDERS", "This user has orders; orders are kept, so the user is too."
    )


async def users_with_orders(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` who placed an order (and so may not be deleted)."""
    if not ids:
        return set()
    owners = await conn.scalars(
        select(orders.c.user_id).where(one_of(orders.c.user_id, ids)).distinct()
    )
    return set(owners)


async def _delete(conn: AsyncConnection, *, actor: Actor, rows: Sequence[Row[Any]]) -> None:
    """Delete these locked rows in one statement; a DELETED event and audit record each."""
    await conn.execute(delete(users).where(one_of(users.c.id, [row.id for row in rows])))
    await record_changes(
        conn,
        actor=actor,
        action="user.deleted",
        topic="user",
        type="DELETED",
        changes=[
            Change(
                entity_id=row.id,
                owner_id=row.id,
                data={column.name: row._mapping[column.name] for column in COLUMNS},
                changes=audit.diff(row._mapping, None, FIELDS),
            )
            for row in rows
        ],
    )
