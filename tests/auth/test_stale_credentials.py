"""A credential cached by one instance never writes with rights its user has lost."""

from __future__ import annotations

import jwt
import pytest

from tests.conftest import Api, running_app, token_for
from tests.graphql.mutations import CREATE_USER, DELETE_USER, PLACE_ORDER, UPDATE_USER


async def test_a_demoted_admin_cannot_write_from_another_instance(wapi: Api) -> None:
    boss = (
        await wapi.data(
            CREATE_USER, {"input": {"email": "boss@example.com", "name": "B", "role": "ADMIN"}}
        )
    )["createUser"]["user"]
    token = await token_for(wapi.url, "boss@example.com")
    async with running_app(wapi.url) as other:
        boss_there = other.as_(token)
        assert (await boss_there.data("{ viewer { role } }"))["viewer"]["role"] == "ADMIN"
        await wapi.data(
            UPDATE_USER, {"input": {"id": boss["id"], "expectedVersion": 1, "role": "USER"}}
        )
        # The other instance still trusts its cached check for reads, but not for writes.
        error = await boss_there.error(
            CREATE_USER, {"input": {"email": "evil@example.com", "name": "E", "role": "ADMIN"}}
        )
        assert error["extensions"]["code"] == "FORBIDDEN"


async def test_a_deleted_user_cannot_place_orders_with_a_cached_token(wapi: Api) -> None:
    user = (await wapi.data(CREATE_USER, {"input": {"email": "gone@example.com", "name": "G"}}))[
        "createUser"
    ]["user"]
    token = await token_for(wapi.url, "gone@example.com")
    async with running_app(wapi.url) as other:
        gone = other.as_(token)
        await gone.data("{ viewer { id } }")
        await wapi.data(DELETE_USER, {"input": {"id": user["id"], "expectedVersion": 1}})
        first = await wapi.data("{ products(first: 1) { edges { node { id } } } }")
        product_id = first["products"]["edges"][0]["node"]["id"]
        variables = {
            "input": {"items": [{"productId": product_id, "quantity": 1}], "idempotencyKey": "k"}
        }
        error = await gone.error(PLACE_ORDER, variables)
        assert error["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "claims",
    [{"email": "admin@example.com", "exp": 10**20}, {"email": "a\u0000b", "exp": 2_000_000_000}],
)
async def test_signed_jwts_with_unusable_claims_are_401(
    seeded_url: str, claims: dict[str, object]
) -> None:
    async with running_app(seeded_url, as_admin=False, jwt_secret="s" * 32) as api:
        token = jwt.encode(claims, "s" * 32, algorithm="HS256")
        response = await api.client.post(
            "/graphql",
            json={"query": "{ viewer { id } }"},
            headers={"authorization": f"Bearer {token}"},
        )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
