"""API token secrets: made, stored only as a hash, looked up by it."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.identity import api_tokens
from app.db.users import users
from app.queries.filters import one_of

PREFIX = "og_"


def new_token() -> str:
    """A fresh token: og_ and 43 characters of 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: uuid.UUID
    user_id: uuid.UUID
    role: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


async def find_token(conn: AsyncConnection, token: str) -> TokenRecord | None:
    stmt = (
        select(
            api_tokens.c.id,
            api_tokens.c.user_id,
            users.c.role,
            api_tokens.c.expires_at,
            api_tokens.c.revoked_at,
            api_tokens.c.last_used_at,
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(api_tokens.c.token_hash == token_hash(token))
    )
    row = (await conn.execute(stmt)).first()
    return TokenRecord(*row) if row else None


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


TOKEN_COLUMNS = [getattr(api_tokens.c, name) for name in ApiTokenRecord.__dataclass_fields__]


async def tokens_by_user_id(
    conn: AsyncConnection, user_ids: Sequence[uuid.UUID]
) -> list[list[ApiTokenRecord]]:
    rows = await conn.execute(
        select(*TOKEN_COLUMNS)
        .where(one_of(api_tokens.c.user_id, user_ids))
        .order_by(api_tokens.c.created_at, api_tokens.c.id)
    )
    grouped: dict[uuid.UUID, list[ApiTokenRecord]] = {user_id: [] for user_id in user_ids}
    for row in rows:
        grouped[row.user_id].append(ApiTokenRecord(*row))
    return [grouped[user_id] for user_id in user_ids]


async def tokens_by_id(
    conn: AsyncConnection, ids: Sequence[uuid.UUID]
) -> list[ApiTokenRecord | None]:
    rows = await conn.execute(select(*TOKEN_COLUMNS).where(one_of(api_tokens.c.id, ids)))
    found = {row.id: ApiTokenRecord(*row) for row in rows}
    return [found.get(token_id) for token_id in ids]
