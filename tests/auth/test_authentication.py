"""Who is asking: bearer API tokens, JWTs (HS256 and RS256), and the token CLI.

Bad credentials end the request with 401 UNAUTHENTICATED and a reason; they are never
quietly treated as anonymous.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth.api_tokens import find_token
from app.auth.authenticate import Authenticator
from app.auth.viewer import Viewer
from app.errors import Unauthenticated
from app.settings import Settings
from tests.conftest import Api, running_app, token_for
from tests.helpers import gid, pk

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "admin@example.com"
MEMBER = "user000007@example.com"

VIEWER = "{ viewer { id email role } }"
PRODUCTS = "{ products(first: 1) { totalCount } }"
CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) {
    token
    apiToken { id name lastUsedAt expiresAt revokedAt }
    errors { field code message }
  }
}
"""
REVOKE_TOKEN = """
mutation($input: RevokeApiTokenInput!) {
  revokeApiToken(input: $input) {
    apiToken { id revokedAt }
    errors { field code message }
  }
}
"""

# HMAC keys shorter than the hash make PyJWT warn (and warnings are errors here).
HS_SECRET = "hs256-test-secret-" + "k" * 40
OTHER_SECRET = "another-test-secret-" + "z" * 40
AUDIENCE = "ordergraph-tests"
ISSUER = "https://idp.example.com/"


async def post(api: Api, authorization: str, document: str = VIEWER) -> httpx.Response:
    """The raw response to `document` sent with exactly this Authorization header."""
    return await api.client.post(
        "/graphql", json={"query": document}, headers={"authorization": authorization}
    )


def assert_unauthenticated(response: httpx.Response, *reason: str) -> str:
    """401, UNAUTHENTICATED, a Bearer challenge, and a message naming one of `reason`."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    body = response.json()
    assert "data" not in body, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    message: str = error["message"]
    assert message.strip(), "the error must say why"
    assert any(word.lower() in message.lower() for word in reason), message
    return message


async def user_id(engine: AsyncEngine, email: str) -> uuid.UUID:
    async with engine.connect() as conn:
        found: uuid.UUID = (
            await conn.execute(text("SELECT id FROM users WHERE email = :e"), {"e": email})
        ).scalar_one()
        return found


async def new_token(api: Api, **input: Any) -> dict[str, Any]:
    """createApiToken for whoever `api` is: {"token": secret, "apiToken": {...}}."""
    data = await api.data(CREATE_TOKEN, {"input": {"name": "auth test", **input}})
    payload: dict[str, Any] = data["createApiToken"]
    assert payload["errors"] == []
    assert payload["token"].startswith("og_")
    return payload


async def set_expiry(engine: AsyncEngine, token_gid: str, seconds: float) -> None:
    """Make a token expire `seconds` from now (in the past when negative), behind the app."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE api_tokens SET expires_at = now() + :s * interval '1 second' WHERE id = :id"
            ),
            {"s": seconds, "id": pk(token_gid)},
        )


# -- API tokens ---------------------------------------------------------------------------


async def test_api_token_authenticates_its_user(
    api: Api, engine: AsyncEngine, seeded_url: str
) -> None:
    member = api.as_(await token_for(seeded_url, MEMBER))
    data = await member.data(VIEWER)
    assert data["viewer"] == {
        "id": gid("User", await user_id(engine, MEMBER)),
        "email": MEMBER,
        "role": "USER",
    }


async def test_admin_token_authenticates_an_admin(api: Api, engine: AsyncEngine) -> None:
    data = await api.data(VIEWER)
    assert data["viewer"] == {
        "id": gid("User", await user_id(engine, ADMIN)),
        "email": ADMIN,
        "role": "ADMIN",
    }


async def test_anonymous_viewer_is_null(api: Api) -> None:
    assert await api.as_(None).data(VIEWER) == {"viewer": None}


async def test_unknown_api_token_is_unauthenticated(api: Api) -> None:
    response = await post(api, f"Bearer og_{secrets.token_urlsafe(32)}")
    assert_unauthenticated(response, "unknown")


async def test_revoked_token_is_refused_at_once_by_the_same_app(api: Api) -> None:
    member = await api.as_user(MEMBER)
    fresh = await new_token(member)
    # Used once, so this process has checked (and may have cached) it.
    assert (await api.as_(fresh["token"]).data(VIEWER))["viewer"]["email"] == MEMBER

    revoked = await member.data(REVOKE_TOKEN, {"input": {"id": fresh["apiToken"]["id"]}})
    assert revoked["revokeApiToken"]["errors"] == []
    assert revoked["revokeApiToken"]["apiToken"]["revokedAt"] is not None

    assert_unauthenticated(await post(api, f"Bearer {fresh['token']}"), "revoked")


async def test_token_can_revoke_itself_and_stops_working(api: Api) -> None:
    fresh = await new_token(await api.as_user(MEMBER))
    itself = api.as_(fresh["token"])
    revoked = await itself.data(REVOKE_TOKEN, {"input": {"id": fresh["apiToken"]["id"]}})
    assert revoked["revokeApiToken"]["errors"] == []
    assert_unauthenticated(await post(api, f"Bearer {fresh['token']}"), "revoked")


async def test_token_with_an_expiry_works_until_then(api: Api) -> None:
    fresh = await new_token(await api.as_user(MEMBER), expiresInDays=1)
    assert fresh["apiToken"]["expiresAt"] is not None
    assert (await api.as_(fresh["token"]).data(VIEWER))["viewer"]["email"] == MEMBER


async def test_expired_token_is_unauthenticated(api: Api, engine: AsyncEngine) -> None:
    fresh = await new_token(await api.as_user(MEMBER), expiresInDays=1)
    await set_expiry(engine, fresh["apiToken"]["id"], -60)
    assert_unauthenticated(await post(api, f"Bearer {fresh['token']}"), "expired")


async def test_token_checked_before_it_expired_is_refused_once_it_has(
    api: Api, engine: AsyncEngine
) -> None:
    fresh = await new_token(await api.as_user(MEMBER), expiresInDays=1)
    await set_expiry(engine, fresh["apiToken"]["id"], 2)
    assert (await api.as_(fresh["token"]).data(VIEWER))["viewer"]["email"] == MEMBER
    await asyncio.sleep(2.2)
    assert_unauthenticated(await post(api, f"Bearer {fresh['token']}"), "expired")


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Basic x", "Bearer", "Bearer    ", "og_abc", "Token og_abc"],
)
async def test_malformed_authorization_header_is_unauthenticated(
    api: Api, authorization: str
) -> None:
    assert_unauthenticated(await post(api, authorization), "bearer")


async def test_non_token_bearer_without_jwt_settings_is_unauthenticated(api: Api) -> None:
    claims = {"email": ADMIN, "exp": int(time.time()) + 300}
    response = await post(api, f"Bearer {jwt.encode(claims, HS_SECRET, algorithm='HS256')}")
    assert_unauthenticated(response, "token")


@pytest.mark.parametrize(
    "authorization", [f"Bearer og_{'A' * 43}", "Basic x", "Bearer not-a-token"]
)
async def test_bad_credentials_on_a_public_query_are_not_downgraded_to_anonymous(
    api: Api, authorization: str
) -> None:
    """Products are public, yet a request with bad credentials is still refused."""
    assert_unauthenticated(await post(api, authorization, PRODUCTS), "")


async def test_bad_credentials_on_a_get_query_are_unauthenticated(api: Api) -> None:
    response = await api.client.get(
        "/graphql",
        params={"query": PRODUCTS},
        headers={"authorization": f"Bearer og_{secrets.token_urlsafe(32)}"},
    )
    assert_unauthenticated(response, "unknown")


async def test_token_secret_is_stored_nowhere(api: Api, engine: AsyncEngine) -> None:
    fresh = await new_token(await api.as_user(MEMBER))
    secret: str = fresh["token"]
    await api.as_(secret).data(VIEWER)  # a use writes last_used_at
    forms = (secret, secret.removeprefix("og_"), secret.encode().hex())
    async with engine.connect() as conn:
        token_rows = (await conn.execute(text("SELECT to_jsonb(t)::text FROM api_tokens t"))).all()
        audit_rows = (
            await conn.execute(text("SELECT to_jsonb(a)::text FROM audit_events a"))
        ).all()
        about_token = await conn.scalar(
            text("SELECT count(*) FROM audit_events WHERE entity_id = :id"),
            {"id": pk(fresh["apiToken"]["id"])},
        )
        stored = await conn.scalar(
            text("SELECT count(*) FROM api_tokens WHERE id = :id"),
            {"id": pk(fresh["apiToken"]["id"])},
        )
    assert stored == 1
    assert about_token, "creating a token is audited, so the audit check is not vacuous"
    for (row,) in [*token_rows, *audit_rows]:
        for form in forms:
            assert form not in row, row


async def test_last_used_at_is_set_when_a_token_is_used(api: Api, engine: AsyncEngine) -> None:
    fresh = await new_token(await api.as_user(MEMBER))
    assert fresh["apiToken"]["lastUsedAt"] is None
    query = text("SELECT last_used_at, now() - last_used_at AS age FROM api_tokens WHERE id = :id")
    params = {"id": pk(fresh["apiToken"]["id"])}
    async with engine.connect() as conn:
        assert (await conn.execute(query, params)).one().last_used_at is None
    await api.as_(fresh["token"]).data(VIEWER)
    async with engine.connect() as conn:
        row = (await conn.execute(query, params)).one()
    assert row.last_used_at is not None
    assert row.age.total_seconds() < 60


# -- JWTs ---------------------------------------------------------------------------------


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for the admin; a change to None leaves that claim out. The subject is
    the email's unless given (a subject is bound to the first user it signs in as)."""
    base: dict[str, Any] = {
        "sub": f"idp|{changes.get('email', ADMIN)}",
        "email": ADMIN,
        "email_verified": True,
        "exp": int(time.time()) + 300,
        "iat": int(time.time()),
        "aud": AUDIENCE,
        "iss": ISSUER,
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def hs256(payload: dict[str, Any], secret: str = HS_SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.fixture(scope="module")
async def hs_api(seeded_url: str) -> AsyncIterator[Api]:
    async with running_app(
        seeded_url,
        as_admin=False,
        jwt_secret=HS_SECRET,
        jwt_audience=AUDIENCE,
        jwt_issuer=ISSUER,
    ) as api:
        yield api


@pytest.mark.parametrize(("email", "role"), [(ADMIN, "ADMIN"), (MEMBER, "USER")])
async def test_hs256_jwt_authenticates_the_user_its_verified_email_names(
    hs_api: Api, engine: AsyncEngine, email: str, role: str
) -> None:
    data = await hs_api.as_(hs256(claims(email=email))).data(VIEWER)
    assert data["viewer"] == {
        "id": gid("User", await user_id(engine, email)),
        "email": email,
        "role": role,
    }


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        pytest.param(hs256(claims(exp=int(time.time()) - 60)), "expired", id="expired"),
        pytest.param(hs256(claims(exp=None)), "exp", id="no-exp"),
        pytest.param(hs256(claims(aud="someone-else")), "aud", id="wrong-aud"),
        pytest.param(hs256(claims(aud=None)), "aud", id="no-aud"),
        pytest.param(hs256(claims(iss="https://evil.example.com/")), "iss", id="wrong-iss"),
        pytest.param(hs256(claims(iss=None)), "iss", id="no-iss"),
        pytest.param(hs256(claims(), OTHER_SECRET), "signature", id="bad-signature"),
        pytest.param(hs256(claims(sub=None)), "sub", id="no-sub"),
        pytest.param(hs256(claims(sub="")), "sub", id="empty-sub"),
        pytest.param(hs256(claims(email=None)), "email", id="no-email"),
        pytest.param(hs256(claims(email="")), "email", id="empty-email"),
        pytest.param(hs256(claims(email="nobody@example.com")), "user", id="no-such-user"),
        pytest.param(jwt.encode(claims(), "", algorithm="none"), "alg", id="alg-none"),
        pytest.param("not.a.jwt", "jwt", id="garbage"),
    ],
)
async def test_bad_hs256_jwt_is_unauthenticated_with_its_reason(
    hs_api: Api, token: str, reason: str
) -> None:
    assert_unauthenticated(await post(hs_api, f"Bearer {token}"), reason)


async def test_bad_jwt_on_a_public_query_is_not_downgraded_to_anonymous(hs_api: Api) -> None:
    token = hs256(claims(), OTHER_SECRET)
    assert_unauthenticated(await post(hs_api, f"Bearer {token}", PRODUCTS), "signature")


async def test_api_tokens_still_work_when_jwts_are_configured(hs_api: Api, seeded_url: str) -> None:
    token = await token_for(seeded_url, MEMBER)
    assert (await hs_api.as_(token).data(VIEWER))["viewer"]["email"] == MEMBER


async def test_jwt_checked_before_it_expired_is_refused_once_it_has(hs_api: Api) -> None:
    expires = int(time.time()) + 2
    token = hs256(claims(exp=expires))
    assert (await hs_api.as_(token).data(VIEWER))["viewer"]["email"] == ADMIN
    await asyncio.sleep(expires - time.time() + 0.2)
    assert_unauthenticated(await post(hs_api, f"Bearer {token}"), "expired")


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rs_key() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture(scope="module")
async def rs_api(seeded_url: str, rs_key: rsa.RSAPrivateKey) -> AsyncIterator[Api]:
    public_pem = (
        rs_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    async with running_app(
        seeded_url,
        as_admin=False,
        jwt_public_key=public_pem,
        jwt_audience=AUDIENCE,
        jwt_issuer=ISSUER,
    ) as api:
        yield api


async def test_rs256_jwt_authenticates(rs_api: Api, rs_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(claims(), rs_key, algorithm="RS256")
    assert (await rs_api.as_(token).data(VIEWER))["viewer"]["email"] == ADMIN


async def test_rs256_jwt_signed_by_another_key_is_unauthenticated(rs_api: Api) -> None:
    token = jwt.encode(claims(), rsa_key(), algorithm="RS256")
    assert_unauthenticated(await post(rs_api, f"Bearer {token}"), "signature")


async def test_hs256_jwt_is_refused_when_only_rs256_is_configured(rs_api: Api) -> None:
    assert_unauthenticated(await post(rs_api, f"Bearer {hs256(claims())}"), "alg")


async def test_expired_rs256_jwt_is_unauthenticated(rs_api: Api, rs_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 60), rs_key, algorithm="RS256")
    assert_unauthenticated(await post(rs_api, f"Bearer {token}"), "expired")


# -- the CLI ------------------------------------------------------------------------------


async def ordergraph(seeded_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": seeded_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_cli_token_create_prints_a_working_token(api: Api, seeded_url: str) -> None:
    code, stdout, stderr = await ordergraph(seeded_url, "token", "create", "--email", ADMIN)
    assert code == 0, stderr
    [token] = stdout.splitlines()
    assert token.startswith("og_")
    data = await api.as_(token).data(VIEWER)
    assert data["viewer"]["email"] == ADMIN
    assert data["viewer"]["role"] == "ADMIN"


async def test_cli_token_create_for_an_unknown_email_prints_no_token(seeded_url: str) -> None:
    code, stdout, _ = await ordergraph(
        seeded_url, "token", "create", "--email", "nobody@example.com"
    )
    assert code != 0
    assert stdout == ""


async def test_a_check_that_raced_a_revocation_is_not_cached(seeded_url: str) -> None:
    """A check that read the database before a revocation committed finishes after the
    revocation dropped the cache: its old, valid answer must not go back in."""
    read_done, revoked = asyncio.Event(), asyncio.Event()

    class Paused(Authenticator):
        async def _api_token(self, token: str) -> Viewer:
            viewer = await super()._api_token(token)
            read_done.set()
            await revoked.wait()  # the revocation commits and is forgotten meanwhile
            return viewer

    secret = await token_for(seeded_url, MEMBER)
    engine = create_async_engine(seeded_url)
    try:
        authenticator = Paused(Settings(database_url=seeded_url, auth_cache_seconds=60), engine)
        check = asyncio.create_task(authenticator.viewer(f"Bearer {secret}"))
        await read_done.wait()
        async with engine.begin() as conn:
            record = await find_token(conn, secret)
            assert record is not None
            await conn.execute(
                text("UPDATE api_tokens SET revoked_at = now() WHERE id = :i"), {"i": record.id}
            )
        authenticator.forget_token(record.id)
        revoked.set()
        await check  # it began before the revocation: its answer may be the old one
        with pytest.raises(Unauthenticated, match="revoked"):
            await authenticator.viewer(f"Bearer {secret}")
    finally:
        await engine.dispose()
