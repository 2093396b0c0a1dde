"""Issuing and revoking API tokens. The secret is returned once and never stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import Field
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.auth.api_tokens import TOKEN_COLUMNS, ApiTokenRecord, new_token, token_hash
from app.db.identity import api_tokens
from app.db.users import users
from app.errors import InvalidInput, NotFound
from app.services import audit
from app.services.audit import Actor
from app.services.validation import Input


class NewToken(Input):
    name: Annotated[str, Field(min_length=1, max_length=100)] = "API token"
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


async def create_api_token(
    conn: AsyncConnection, *, actor: Actor, user_id: uuid.UUID, data: NewToken
) -> tuple[str, ApiTokenRecord]:
    """A new token for user_id: (the secret, shown once; its record)."""
    if not policy.can_act_for(actor.viewer, user_id):
        policy.require_user(actor.viewer, to="create API tokens")
        raise NotFound("No user with this id.", field="userId")
    if not await conn.scalar(select(users.c.id).where(users.c.id == user_id)):
        raise InvalidInput.one("userId", "NOT_FOUND", "No user with this id.")
    secret = new_token()
    expires_at = (
        datetime.now(UTC) + timedelta(days=data.expires_in_days) if data.expires_in_days else None
    )
    row = (
        await conn.execute(
            insert(api_tokens)
            .values(
                user_id=user_id,
                name=data.name,
                token_hash=token_hash(secret),
                expires_at=expires_at,
            )
            .returning(*TOKEN_COLUMNS)
        )
    ).one()
    record = ApiTokenRecord(*row)
    await audit.record(
        conn,
        actor=actor,
        action="token.created",
        entity_type="ApiToken",
        entity_id=record.id,
        changes=audit.diff(
            None,
            {"user_id": user_id, "name": data.name, "expires_at": expires_at},
            ("user_id", "name", "expires_at"),
        ),
    )
    return secret, record


async def revoke_api_token(
    conn: AsyncConnection, *, actor: Actor, token_id: uuid.UUID
) -> ApiTokenRecord:
    policy.require_user(actor.viewer, to="revoke API tokens")
    row = (
        await conn.execute(
            select(*TOKEN_COLUMNS).where(api_tokens.c.id == token_id).with_for_update()
        )
    ).first()
    if row is None or not policy.can_act_for(actor.viewer, row.user_id):
        raise NotFound("No API token with this id.", field="id")
    if row.revoked_at is not None:
        return ApiTokenRecord(*row)
    revoked = (
        await conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id)
            .values(revoked_at=func.now())
            .returning(*TOKEN_COLUMNS)
        )
    ).one()
    await audit.record(
        conn,
        actor=actor,
        action="token.revoked",
        entity_type="ApiToken",
        entity_id=token_id,
        changes={"revoked_at": {"before": None, "after": revoked.revoked_at.isoformat()}},
    )
    return ApiTokenRecord(*revoked)
