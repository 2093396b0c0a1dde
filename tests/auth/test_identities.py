"""Which user a JWT signs in as: its (iss, sub), bound on first use, never its email alone.

An identity from the identity provider is bound to a user the first time it signs in,
through a verified email that ordergraph trusts too; from then on the binding decides,
whatever the email claim or the user's email says. A user who set their own email cannot
be taken over by the address's real owner signing in, nor take over theirs.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import seed
from tests.auth.test_authentication import assert_unauthenticated
from tests.conftest import SMALL, Api, running_app
from tests.graphql.mutations import DELETE_USER, UPDATE_USER
from tests.helpers import gid

SECRET = "identity-test-secret-" + "q" * 40
ISSUER = "https://idp.example.com/"
OTHER_ISSUER = "https://other-idp.example.com/"
ADMIN = "admin@example.com"
ALICE = "user000000@example.com"
BOB = "user000001@example.com"
VICTIM = "victim@example.com"

VIEWER = "{ viewer { id email } }"
USER_BY_EMAIL = """query($email: String!) {
  users(first: 1, filter: {email: $email}) { edges { node { id email version } } }
}"""
CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) {
  user { id email version } errors { field code message } } }"""


def token(sub: str | None, email: str | None, *, verified: bool | None = True, **extra: Any) -> str:
    """An HS256 JWT; None leaves a claim out. Each call is a new credential (jti)."""
    claims: dict[str, Any] = {
        "sub": sub,
        "email": email,
        "email_verified": verified,
        "iss": ISSUER,
        "exp": int(time.time()) + 300,
        "jti": secrets.token_hex(8),
        **extra,
    }
    return jwt.encode(
        {name: value for name, value in claims.items() if value is not None},
        SECRET,
        algorithm="HS256",
    )


@pytest.fixture
async def db_url(empty_url: str) -> str:
    """A database of the test's own (bindings are writes), seeded with SMALL."""
    engine = create_async_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
    finally:
        await engine.dispose()
    return empty_url


@pytest.fixture
async def idp(db_url: str) -> AsyncIterator[Api]:
    """The app accepting JWTs from ISSUER; requests without a JWT are the admin's."""
    async with running_app(db_url, jwt_secret=SECRET, jwt_issuer=ISSUER) as api:
        yield api


async def post(api: Api, credential: str) -> httpx.Response:
    return await api.client.post(
        "/graphql", json={"query": VIEWER}, headers={"authorization": f"Bearer {credential}"}
    )


async def signed_in_email(api: Api, credential: str) -> str:
    data = await api.as_(credential).data(VIEWER)
    email: str = data["viewer"]["email"]
    return email


async def bindings(url: str) -> list[tuple[str, str, str]]:
    """(issuer, subject, user's email) of every binding."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT i.issuer, i.subject, u.email FROM user_identities i "
                    "JOIN users u ON u.id = i.user_id ORDER BY 1, 2"
                )
            )
            return [(row[0], row[1], row[2]) for row in rows]
    finally:
        await engine.dispose()


async def user(api: Api, email: str) -> dict[str, Any]:
    data = await api.data(USER_BY_EMAIL, {"email": email})
    [edge] = data["users"]["edges"]
    node: dict[str, Any] = edge["node"]
    return node


async def change_email(api: Api, target: dict[str, Any], email: str) -> dict[str, Any]:
    """updateUser(email) as whoever `api` is; the user as it is after."""
    data = await api.data(
        UPDATE_USER,
        {"input": {"id": target["id"], "expectedVersion": target["version"], "email": email}},
    )
    assert data["updateUser"]["errors"] == [], data
    changed: dict[str, Any] = data["updateUser"]["user"]
    return changed


# -- binding on first use ------------------------------------------------------------------


async def test_first_sign_in_binds_the_identity_to_the_user_its_verified_email_names(
    idp: Api, db_url: str
) -> None:
    assert await signed_in_email(idp, token("alice-sub", ALICE)) == ALICE
    assert await bindings(db_url) == [(ISSUER, "alice-sub", ALICE)]
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            recorded = (
                await conn.execute(
                    text(
                        "SELECT actor_id, entity_id, changes->'identity'->'after' "
                        "FROM audit_events WHERE action = 'user.identity_bound'"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    alice_id = await user_id(db_url, ALICE)
    assert [tuple(row) for row in recorded] == [
        (alice_id, alice_id, {"issuer": ISSUER, "subject": "alice-sub", "email": ALICE})
    ]


async def test_a_token_without_iss_is_under_the_empty_issuer(db_url: str) -> None:
    async with running_app(db_url, jwt_secret=SECRET) as api:
        assert await signed_in_email(api, token("a", ALICE, iss=None)) == ALICE
        assert await signed_in_email(api, token("a", BOB)) == BOB
    assert await bindings(db_url) == [("", "a", ALICE), (ISSUER, "a", BOB)]


async def test_a_bound_identity_signs_in_as_its_user_whatever_the_email_claim_says(
    idp: Api,
) -> None:
    assert await signed_in_email(idp, token("alice-sub", ALICE)) == ALICE
    # The identity provider now says this identity is the admin's address: still Alice.
    assert await signed_in_email(idp, token("alice-sub", ADMIN)) == ALICE
    assert await signed_in_email(idp, token("alice-sub", None)) == ALICE


async def test_another_identity_with_the_same_email_from_the_same_issuer_is_refused(
    idp: Api, db_url: str
) -> None:
    """One identity per issuer per user: a second subject claiming Alice's address (her
    address re-registered at the provider by someone else, say) does not get her account."""
    assert await signed_in_email(idp, token("alice-sub", ALICE)) == ALICE
    assert_unauthenticated(await post(idp, token("intruder-sub", ALICE)), "another identity")
    assert await bindings(db_url) == [(ISSUER, "alice-sub", ALICE)]


async def test_a_user_may_sign_in_through_several_issuers(db_url: str) -> None:
    """Without JWT_ISSUER the token's own iss names the issuer; one binding per issuer."""
    async with running_app(db_url, jwt_secret=SECRET) as api:
        assert await signed_in_email(api, token("a", ALICE)) == ALICE
        assert await signed_in_email(api, token("b", ALICE, iss=OTHER_ISSUER)) == ALICE
        # The same subject at another issuer is another identity: Bob's, not Alice's.
        assert await signed_in_email(api, token("a", BOB, iss=OTHER_ISSUER)) == BOB
        assert await signed_in_email(api, token("a", BOB)) == ALICE
    assert await bindings(db_url) == [
        (ISSUER, "a", ALICE),
        (OTHER_ISSUER, "a", BOB),
        (OTHER_ISSUER, "b", ALICE),
    ]


async def test_a_jwt_without_sub_is_refused(idp: Api, db_url: str) -> None:
    assert_unauthenticated(await post(idp, token(None, ALICE)), "sub")
    assert await bindings(db_url) == []


async def test_a_jwt_naming_no_user_is_refused_and_binds_nothing(idp: Api, db_url: str) -> None:
    assert_unauthenticated(await post(idp, token("nobody-sub", "nobody@example.com")), "user")
    assert await bindings(db_url) == []


# -- email_verified ------------------------------------------------------------------------


async def test_an_unverified_email_is_refused_and_binds_nothing(idp: Api, db_url: str) -> None:
    assert_unauthenticated(await post(idp, token("alice-sub", ALICE, verified=False)), "verified")
    assert await bindings(db_url) == []


@pytest.mark.parametrize("claim", ["yes", 1, "false", {}])
async def test_email_verified_other_than_true_is_not_verified(idp: Api, claim: Any) -> None:
    credential = token("alice-sub", ALICE, verified=None, email_verified=claim)
    assert_unauthenticated(await post(idp, credential), "verified")


async def test_absent_email_verified_is_refused_by_default(idp: Api, db_url: str) -> None:
    assert_unauthenticated(await post(idp, token("alice-sub", ALICE, verified=None)), "verified")
    assert await bindings(db_url) == []


async def test_absent_email_verified_binds_when_the_setting_allows(db_url: str) -> None:
    """For providers that only issue tokens for verified addresses and omit the claim."""
    async with running_app(
        db_url, jwt_secret=SECRET, jwt_issuer=ISSUER, jwt_require_email_verified=False
    ) as api:
        assert await signed_in_email(api, token("alice-sub", ALICE, verified=None)) == ALICE
        # An explicit false is still refused.
        assert_unauthenticated(await post(api, token("bob-sub", BOB, verified=False)), "verified")
    assert await bindings(db_url) == [(ISSUER, "alice-sub", ALICE)]


async def test_a_bound_identity_needs_no_email_claim_again(idp: Api) -> None:
    assert await signed_in_email(idp, token("alice-sub", ALICE)) == ALICE
    assert await signed_in_email(idp, token("alice-sub", None, verified=False)) == ALICE


# -- the takeover through a self-chosen email --------------------------------------------


async def test_an_address_a_user_claimed_does_not_let_its_owner_into_their_account(
    idp: Api, db_url: str
) -> None:
    """Alice sets her email to the victim's address before the victim first signs in with
    a JWT carrying it, verified by the provider. The victim must not land in Alice's
    account (nor Alice in the victim's): they are told to ask an admin."""
    alice = await idp.as_user(ALICE)
    await change_email(alice, await user(idp, ALICE), VICTIM)

    message = assert_unauthenticated(await post(idp, token("victim-sub", VICTIM)), "admin")
    assert "verified" in message.lower()
    assert await bindings(db_url) == []


async def test_an_address_an_admin_set_is_trusted_for_binding(idp: Api) -> None:
    """An admin vouches for the addresses they set, and may confirm one a user set by
    setting it again."""
    created = (await idp.data(CREATE_USER, {"input": {"email": VICTIM, "name": "V"}}))[
        "createUser"
    ]["user"]
    assert await signed_in_email(idp, token("victim-sub", VICTIM)) == VICTIM

    alice = await idp.as_user(ALICE)
    claimed = await change_email(alice, await user(idp, ALICE), "alice@new.example.com")
    assert_unauthenticated(await post(idp, token("alice-sub", "alice@new.example.com")), "admin")
    await change_email(idp, claimed, "alice@new.example.com")
    assert await signed_in_email(idp, token("alice-sub", "alice@new.example.com")) == (
        "alice@new.example.com"
    )
    assert created["email"] == VICTIM


# -- email changes re-bind nothing --------------------------------------------------------


async def test_a_users_own_email_change_keeps_their_identity_and_gives_it_to_no_one(
    idp: Api, db_url: str
) -> None:
    assert await signed_in_email(idp, token("alice-sub", ALICE)) == ALICE
    alice = await idp.as_user(ALICE)
    await change_email(alice, await user(idp, ALICE), "alice@new.example.com")

    assert await signed_in_email(idp, token("alice-sub", ALICE)) == "alice@new.example.com"
    assert_unauthenticated(await post(idp, token("new-sub", "alice@new.example.com")), "admin")
    assert await bindings(db_url) == [(ISSUER, "alice-sub", "alice@new.example.com")]


async def test_an_admins_email_change_moves_no_binding(idp: Api, db_url: str) -> None:
    assert await signed_in_email(idp, token("alice-sub", ALICE)) == ALICE
    await change_email(idp, await user(idp, ALICE), "alice@new.example.com")

    # The new address at the same issuer under another subject is not Alice.
    assert_unauthenticated(
        await post(idp, token("new-sub", "alice@new.example.com")), "another identity"
    )
    # And the old address, now nobody's, lands nowhere.
    assert_unauthenticated(await post(idp, token("old-owner-sub", ALICE)), "user")
    assert await signed_in_email(idp, token("alice-sub", ALICE)) == "alice@new.example.com"
    assert await bindings(db_url) == [(ISSUER, "alice-sub", "alice@new.example.com")]


async def test_deleting_a_user_deletes_their_bindings(idp: Api, db_url: str) -> None:
    created = (await idp.data(CREATE_USER, {"input": {"email": VICTIM, "name": "V"}}))[
        "createUser"
    ]["user"]
    assert await signed_in_email(idp, token("victim-sub", VICTIM)) == VICTIM
    deleted = await idp.data(
        DELETE_USER, {"input": {"id": created["id"], "expectedVersion": created["version"]}}
    )
    assert deleted["deleteUser"]["errors"] == []
    assert await bindings(db_url) == []
    assert_unauthenticated(await post(idp, token("victim-sub", VICTIM)), "user")


# -- concurrency ---------------------------------------------------------------------------


async def test_concurrent_first_sign_ins_of_one_identity_bind_it_once(
    idp: Api, db_url: str
) -> None:
    responses = await asyncio.gather(*(post(idp, token("alice-sub", ALICE)) for _ in range(8)))
    alice_id = gid("User", await user_id(db_url, ALICE))
    for response in responses:
        assert response.status_code == 200, response.text
        assert response.json()["data"]["viewer"]["id"] == alice_id
    assert await bindings(db_url) == [(ISSUER, "alice-sub", ALICE)]


async def test_concurrent_first_sign_ins_of_two_identities_bind_one(idp: Api, db_url: str) -> None:
    subjects = [f"sub-{index}" for index in range(6)]
    responses = await asyncio.gather(*(post(idp, token(sub, ALICE)) for sub in subjects))
    won = [sub for sub, response in zip(subjects, responses, strict=True) if response.is_success]
    assert len(won) == 1, [response.text for response in responses]
    for response in responses:
        if not response.is_success:
            assert_unauthenticated(response, "another identity")
    assert await bindings(db_url) == [(ISSUER, won[0], ALICE)]


async def user_id(url: str, email: str) -> uuid.UUID:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found: uuid.UUID = (
                await conn.execute(text("SELECT id FROM users WHERE email = :e"), {"e": email})
            ).scalar_one()
            return found
    finally:
        await engine.dispose()
