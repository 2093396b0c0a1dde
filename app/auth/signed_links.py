"""Short-lived, single-use links signed for a caller, for downloads a browser opens without
an Authorization header (exports today; invoices and "export my data" later).

    links = SignedLinks(engine, secret=settings.signing_secret)
    token = await links.sign(purpose="export", subject=viewer, params={...}, expires_at=...)
    grant = await links.redeem(token, purpose="export")   # Grant(viewer, params, ...)

A token is `base64url(payload).base64url(HMAC-SHA256(key, payload))`. The payload names
the purpose, the caller (user, API token, credential expiry), the parameters and a
random nonce; it is readable by whoever holds the link, so put nothing secret in
`params`. Redeeming checks, in this order: the signature (LINK_INVALID), the purpose
(LINK_INVALID), the expiry (LINK_EXPIRED), the caller's rights as they are now
(UNAUTHENTICATED when the user is gone or the token revoked or expired), and records the
nonce in PostgreSQL (LINK_USED when it is there already), so a link works once across
every instance. The key is SIGNING_SECRET, else one random key kept in the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import SecretStr
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.authenticate import current_viewer
from app.auth.viewer import ANONYMOUS, Viewer
from app.db.engine import transaction
from app.db.signed_links import signed_link_uses, signing_keys
from app.errors import LinkExpired, LinkInvalid, LinkUsed

_VERSION = 1
_KEY_NAME = "links"
# Derived from the secret, so the same SIGNING_SECRET could key other things safely.
_KEY_CONTEXT = b"ordergraph signed links v1"


@dataclass(frozen=True, slots=True)
class Grant:
    """What a redeemed link allows: act as `viewer` (re-checked now) with `params`."""

    viewer: Viewer
    params: dict[str, Any]
    expires_at: datetime


class SignedLinks:
    def __init__(self, engine: AsyncEngine, *, secret: SecretStr | None) -> None:
        self._engine = engine
        self._key = _derive(secret.get_secret_value().encode()) if secret is not None else None

    async def sign(
        self, *, purpose: str, subject: Viewer, params: dict[str, Any], expires_at: datetime
    ) -> str:
        """A token for `subject` to do `purpose` with `params` until `expires_at` (never
        beyond the subject's own credential)."""
        if subject.expires_at is not None:
            expires_at = min(expires_at, subject.expires_at)
        payload = orjson.dumps(
            {
                "v": _VERSION,
                "p": purpose,
                "u": subject.user_id.hex if subject.user_id else None,
                "t": subject.token_id.hex if subject.token_id else None,
                "x": subject.expires_at.timestamp() if subject.expires_at else None,
                "a": params,
                "e": expires_at.timestamp(),
                "n": secrets.token_urlsafe(16),
            }
        )
        body = _b64(payload)
        return f"{body}.{_b64(await self._mac(body))}"

    async def redeem(
        self,
        token: str,
        *,
        purpose: str,
        check: Callable[[dict[str, Any]], None] = lambda params: None,
    ) -> Grant:
        """The grant of a good link, which is now used up; LinkInvalid, LinkExpired,
        LinkUsed or Unauthenticated otherwise. `check(params)` may refuse the link for
        this request (raise) before it is used up."""
        body, _, signature = token.partition(".")
        try:
            given = _unb64(signature)
            good = hmac.compare_digest(given, await self._mac(body))
        except (ValueError, binascii.Error):
            good = False
        if not good:
            raise LinkInvalid("This link is not one this server signed, or it was altered.")
        claims = orjson.loads(_unb64(body))
        if claims.get("v") != _VERSION or claims.get("p") != purpose:
            raise LinkInvalid(f"This link is not a {purpose} link.")
        expires_at = datetime.fromtimestamp(claims["e"], UTC)
        if expires_at <= datetime.now(UTC):
            raise LinkExpired("This link has expired; ask for a new one.")
        check(claims["a"])
        signer = Viewer(
            user_id=uuid.UUID(hex=claims["u"]) if claims["u"] else None,
            token_id=uuid.UUID(hex=claims["t"]) if claims["t"] else None,
            expires_at=datetime.fromtimestamp(claims["x"], UTC) if claims["x"] else None,
        )
        async with transaction(self._engine) as conn:
            viewer = await current_viewer(conn, signer) if signer.user_id else ANONYMOUS
            used = await conn.scalar(
                pg_insert(signed_link_uses)
                .values(
                    nonce=hashlib.sha256(claims["n"].encode()).digest(),
                    purpose=purpose,
                    expires_at=expires_at,
                )
                .on_conflict_do_nothing()
                .returning(signed_link_uses.c.nonce)
            )
            if used is None:
                raise LinkUsed("This link has been used already; links work once.")
            # An expired link is refused before its nonce is looked up: forget those.
            await conn.execute(
                delete(signed_link_uses).where(signed_link_uses.c.expires_at < func.now())
            )
        return Grant(viewer=viewer, params=claims["a"], expires_at=expires_at)

    async def _mac(self, body: str) -> bytes:
        if self._key is None:
            self._key = _derive(await self._stored_secret())
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()

    async def _stored_secret(self) -> bytes:
        """The database's key, made by the first instance that asks."""
        async with transaction(self._engine) as conn:
            await conn.execute(
                pg_insert(signing_keys)
                .values(name=_KEY_NAME, secret=secrets.token_bytes(32))
                .on_conflict_do_nothing()
            )
            secret = await conn.scalar(
                select(signing_keys.c.secret).where(signing_keys.c.name == _KEY_NAME)
            )
        assert secret is not None  # inserted above, or by another instance first
        return bytes(secret)


def _derive(secret: bytes) -> bytes:
    return hmac.new(secret, _KEY_CONTEXT, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


__all__ = ["Grant", "SignedLinks"]
