"""Turn an Authorization header into a Viewer, or say exactly why not.

Bearer og_... is an API token; any other bearer is a JWT when JWT_SECRET or
JWT_PUBLIC_KEY is set, and is the user its (iss, sub) is bound to (app.auth.identities).
Bad credentials are UNAUTHENTICATED with a reason, never a silent downgrade to
anonymous. A checked credential is trusted for AUTH_CACHE_SECONDS in this process
(revoking through this process takes effect at once).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

import jwt
from cachetools import TTLCache
from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth.api_tokens import PREFIX, find_token
from app.auth.identities import (
    Identity,
    Refusal,
    bind_identity,
    find_bound_user,
    touch_identity,
)
from app.auth.viewer import ANONYMOUS, Viewer
from app.db.engine import connect, transaction
from app.db.erasures import erased_users
from app.db.identity import api_tokens
from app.db.users import users
from app.errors import Unauthenticated
from app.settings import Settings

TOUCH_EVERY = timedelta(minutes=1)
# Credentials kept checked at once; beyond this the oldest are forgotten first.
CACHE_SIZE = 10_000


class Authenticator:
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        # Binding an identity on first use is a write of its own, with its audit record.
        self._writer = engine.execution_options(isolation_level="READ COMMITTED")
        self._cache: TTLCache[str, Viewer] | None = (
            TTLCache(maxsize=CACHE_SIZE, ttl=settings.auth_cache_seconds)
            if settings.auth_cache_seconds > 0
            else None
        )
        # Bumped by every forget_*: a check that read the database before a revocation
        # committed must not put its (old, valid) answer back after the revocation
        # dropped it, so an answer is cached only if no forget happened meanwhile.
        self._generation = 0

    async def viewer(self, authorization: str | None) -> Viewer:
        if not authorization:
            return ANONYMOUS
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated("Authorization must be `Bearer <token>`.")
        cached = self._cache.get(credential) if self._cache is not None else None
        if cached is not None:
            return _unexpired(cached)
        generation = self._generation
        if credential.startswith(PREFIX):
            viewer = await self._api_token(credential)
        else:
            viewer = await self._jwt(credential)
        if self._cache is not None and generation == self._generation:
            self._cache[credential] = viewer
        return viewer

    def forget_token(self, token_id: uuid.UUID) -> None:
        """Drop a revoked token from this process's cache at once."""
        self._forget(lambda viewer: viewer.token_id == token_id)

    def forget_user(self, user_id: uuid.UUID) -> None:
        """Drop every cached credential of a user whose role changed or who was deleted."""
        self._forget(lambda viewer: viewer.user_id == user_id)

    def forget_users(self, user_ids: Collection[uuid.UUID]) -> None:
        """`forget_user` for many, in one pass over the cache."""
        if user_ids:
            self._forget(lambda viewer: viewer.user_id in user_ids)

    def _forget(self, matches: Callable[[Viewer], bool]) -> None:
        self._generation += 1
        if self._cache is None:
            return
        for key, viewer in list(self._cache.items()):
            if matches(viewer):
                self._cache.pop(key, None)

    async def _api_token(self, token: str) -> Viewer:
        async with connect(self.engine) as conn:
            record = await find_token(conn, token)
            if record is None:
                raise Unauthenticated("Unknown API token.")
            if record.revoked_at is not None:
                raise Unauthenticated("This API token was revoked.")
            now = datetime.now(UTC)
            if record.expires_at is not None and record.expires_at <= now:
                raise Unauthenticated("This API token has expired; create a new one.")
            if record.last_used_at is None or now - record.last_used_at > TOUCH_EVERY:
                await conn.execute(
                    update(api_tokens).where(api_tokens.c.id == record.id).values(last_used_at=now)
                )
        return Viewer(
            user_id=record.user_id,
            role=record.role,
            token_id=record.id,
            expires_at=record.expires_at,
        )

    async def _jwt(self, token: str) -> Viewer:
        settings = self.settings
        if settings.jwt_secret is not None:
            key, algorithm = settings.jwt_secret.get_secret_value(), "HS256"
        elif settings.jwt_public_key:
            key, algorithm = settings.jwt_public_key, "RS256"
        else:
            raise Unauthenticated("Unknown token: API tokens start with og_.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": settings.jwt_audience is not None,
                    "verify_iss": settings.jwt_issuer is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The JWT has expired.") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("The JWT is for another audience (aud).") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("The JWT comes from another issuer (iss).") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"The JWT lacks the `{exc.claim}` claim.") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"The JWT is not valid: {exc}.") from None
        identity = _identity(claims, settings)
        try:
            expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        except (OverflowError, OSError, ValueError, TypeError):
            raise Unauthenticated("The JWT's exp is out of range.") from None
        async with connect(self.engine) as conn:
            bound = await find_bound_user(conn, identity)
            now = datetime.now(UTC)
            if bound is not None and now - bound.last_seen_at > TOUCH_EVERY:
                await touch_identity(conn, identity, now=now)
        if bound is None:
            email = _verified_email(claims, settings)
            async with transaction(self._writer) as conn:
                outcome = await bind_identity(conn, identity, email=email)
            if isinstance(outcome, Refusal):
                raise Unauthenticated(REFUSALS[outcome])
            bound = outcome
        return Viewer(user_id=bound.user_id, role=bound.role, expires_at=expires_at)


REFUSALS = {
    Refusal.NO_USER: "The JWT names no user of this API.",
    Refusal.EMAIL_NOT_TRUSTED: "The user with the JWT's email set that address themselves and "
    "it is not verified here; ask an admin to confirm it before signing in.",
    Refusal.ISSUER_TAKEN: "The user with the JWT's email already signs in with another identity "
    "from this issuer; ask an admin.",
}


def _identity(claims: dict[str, Any], settings: Settings) -> Identity:
    """(iss, sub). Without JWT_ISSUER the token's own iss names the issuer, and one
    without iss is under the empty issuer: whoever holds the key decides either way."""
    issuer = settings.jwt_issuer if settings.jwt_issuer is not None else claims.get("iss", "")
    if not _usable(issuer, allow_empty=True):
        raise Unauthenticated("The JWT's `iss` claim is not a usable string.")
    subject = claims.get("sub")
    if not _usable(subject):
        raise Unauthenticated("The JWT's `sub` claim is not a usable string.")
    return Identity(issuer=issuer, subject=subject)


def _verified_email(claims: dict[str, Any], settings: Settings) -> str:
    """The email that may bind a new identity: present, usable, and verified."""
    email = claims.get(settings.jwt_email_claim)
    if not _usable(email, max_length=254):
        raise Unauthenticated(f"The JWT lacks a usable `{settings.jwt_email_claim}` claim.")
    verified = claims.get("email_verified")
    if verified is None and settings.jwt_require_email_verified:
        raise Unauthenticated(
            "The JWT does not say its email is verified (no `email_verified` claim), so it "
            "cannot sign in for the first time."
        )
    # Some providers send the string "true"; anything else but JSON true is not verified.
    if verified is not None and verified is not True and verified != "true":
        raise Unauthenticated("The JWT's email is not verified (`email_verified`).")
    return email.strip().lower()


def _usable(value: object, *, max_length: int = 255, allow_empty: bool = False) -> TypeGuard[str]:
    return (
        isinstance(value, str)
        and (allow_empty or bool(value.strip()))
        and len(value) <= max_length
        and "\x00" not in value
    )


def _unexpired(viewer: Viewer) -> Viewer:
    if viewer.expires_at is not None and viewer.expires_at <= datetime.now(UTC):
        raise Unauthenticated("The credential has expired.")
    return viewer


async def current_viewer(conn: AsyncConnection, viewer: Viewer) -> Viewer:
    """The viewer with their role as it is now. A user deleted or erased since their
    token was checked is refused.

    Their row is locked FOR NO KEY UPDATE (what SQLAlchemy's `key_share=True` without
    `read=True` sends) until the transaction ends: it can be neither deleted nor given
    another role meanwhile, and one actor's writes run one after another."""
    if viewer.user_id is None:
        return viewer
    role = await conn.scalar(
        select(users.c.role)
        .where(
            users.c.id == viewer.user_id,
            # An erased user's row stays (their orders keep an owner); they are gone.
            ~exists().where(erased_users.c.user_id == users.c.id),
        )
        .with_for_update(key_share=True)
    )
    if role is None:
        raise Unauthenticated("The user this credential belongs to no longer exists.")
    if viewer.expires_at is not None and viewer.expires_at <= datetime.now(UTC):
        raise Unauthenticated("The credential has expired.")
    if viewer.token_id is not None:
        token = (
            await conn.execute(
                select(api_tokens.c.revoked_at).where(api_tokens.c.id == viewer.token_id)
            )
        ).first()
        # Gone: retention deleted it, long after it was revoked or expired.
        if token is None or token.revoked_at is not None:
            raise Unauthenticated("This API token was revoked.")
    return dataclasses.replace(viewer, role=role)
