"""Privacy mutations: export a person's data through a signed link; erase a person."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import policy
from app.auth.signed_links import SignedLinks
from app.db.engine import connect
from app.db.users import users
from app.errors import NotFound
from app.graphql.context import Info
from app.graphql.payloads import write
from app.graphql.privacy.types import (
    EraseMyDataInput,
    EraseUserInput,
    EraseUserPayload,
    ExportUserDataInput,
    PersonalDataExportPayload,
)
from app.graphql.relay import pk_of
from app.graphql.users.types import User
from app.privacy.erasure import Erased, erase_user
from app.privacy.routes import PATH, PURPOSE
from app.services.audit import Actor

log = logging.getLogger("app.privacy")


async def _export_link(info: Info, user_id: uuid.UUID) -> PersonalDataExportPayload:
    context = info.context
    async with connect(context.loaders.engine) as conn:
        exists = await conn.scalar(select(users.c.id).where(users.c.id == user_id))
    if exists is None:
        raise NotFound("No user with this id.", field="id")
    links: SignedLinks = context.request.app.state.links
    expires_at = datetime.now(UTC) + timedelta(seconds=context.settings.export_link_seconds)
    token = await links.sign(
        purpose=PURPOSE, subject=context.viewer, params={"user": user_id.hex}, expires_at=expires_at
    )
    if context.viewer.expires_at is not None:
        expires_at = min(expires_at, context.viewer.expires_at)
    base = str(context.request.base_url).rstrip("/")
    return PersonalDataExportPayload(
        url=f"{base}{PATH}?link={quote(token)}", expires_at=expires_at, errors=[]
    )


async def _erase(info: Info, user_id: uuid.UUID, confirm: str | None) -> EraseUserPayload:
    context = info.context

    async def work(conn: AsyncConnection, actor: Actor) -> Erased:
        return await erase_user(conn, actor=actor, user_id=user_id, confirm=confirm)

    erased, errors = await write(info, work, locks_user=user_id)
    if erased is None:
        return EraseUserPayload(user=None, errors=errors)
    context.authenticator.forget_user(user_id)
    cache = context.field_cache
    await cache.invalidate([f"user:{user_id}", f"user:{user_id}:orders"])
    if await cache.forget_containing(erased.needles) is None:
        # The tags are bumped, so nothing stale is served; the bytes stay until their TTL.
        log.warning("erasure of %s: the cache could not be scrubbed (Redis away)", user_id)
    return EraseUserPayload(user=User.from_record(erased.user), errors=[])


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(
        description="A single-use, short-lived URL that downloads all your data as JSON."
    )
    async def export_my_data(self, info: Info) -> PersonalDataExportPayload:
        user_id = policy.require_user(info.context.viewer, to="export your data")
        return await _export_link(info, user_id)

    @strawberry.mutation(description="exportMyData for any user. Admins only.")
    async def export_user_data(
        self, info: Info, input: ExportUserDataInput
    ) -> PersonalDataExportPayload:
        policy.require_admin(info.context.viewer, to="export another user's data")
        return await _export_link(info, pk_of(input.id, "User"))

    @strawberry.mutation(
        description="Erase your personal data: your email and name become a pseudonym, "
        "your orders stay under it, every credential stops working. Cannot be undone."
    )
    async def erase_my_data(self, info: Info, input: EraseMyDataInput) -> EraseUserPayload:
        user_id = policy.require_user(info.context.viewer, to="erase your data")
        return await _erase(info, user_id, input.confirm)

    @strawberry.mutation(description="eraseMyData for any user, without confirm. Admins only.")
    async def erase_user(self, info: Info, input: EraseUserInput) -> EraseUserPayload:
        policy.require_admin(info.context.viewer, to="erase users")
        return await _erase(info, pk_of(input.id, "User"), None)
