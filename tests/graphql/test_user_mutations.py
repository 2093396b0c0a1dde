"""createUser, updateUser, deleteUser: validation, permissions, versions, audit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.dbtools import fetch_one, fetch_value
from tests.graphql.mutations import CREATE_USER, DELETE_USER, UPDATE_USER
from tests.helpers import gid, pk


async def scalar(api: Api, sql: str, **params: Any) -> Any:
    return await fetch_value(api.url, sql, **params)


async def user_row(api: Api, email: str) -> Any:
    return await fetch_one(api.url, "SELECT * FROM users WHERE email = :e", e=email)


async def test_admin_creates_a_user_normalised_and_audited(wapi: Api) -> None:
    data = await wapi.data(
        CREATE_USER, {"input": {"email": "  New.Person@Example.COM ", "name": "  Ann  "}}
    )
    payload = data["createUser"]
    assert payload["errors"] == []
    assert payload["user"]["email"] == "new.person@example.com"
    assert payload["user"]["name"] == "Ann"
    assert payload["user"]["role"] == "USER"
    assert payload["user"]["version"] == 1
    changes = await scalar(
        wapi,
        "SELECT changes FROM audit_events WHERE action = 'user.created' AND entity_id = :id",
        id=pk(payload["user"]["id"]),
    )
    assert changes["email"] == {"before": None, "after": "new.person@example.com"}


@pytest.mark.parametrize(
    ("input", "field", "code"),
    [
        ({"email": "not-an-email", "name": "A"}, "email", "INVALID_EMAIL"),
        ({"email": "a@example.com", "name": "   "}, "name", "TOO_SHORT"),
        ({"email": "a@example.com", "name": "x" * 101}, "name", "TOO_LONG"),
        ({"email": "USER000001@example.com", "name": "Dup"}, "email", "EMAIL_TAKEN"),
    ],
)
async def test_create_user_reports_fixable_problems_and_writes_nothing(
    wapi: Api, input: dict[str, str], field: str, code: str
) -> None:
    users_before = await scalar(wapi, "SELECT count(*) FROM users")
    audit_before = await scalar(wapi, "SELECT count(*) FROM audit_events")
    payload = (await wapi.data(CREATE_USER, {"input": input}))["createUser"]
    assert payload["user"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert payload["errors"][0]["message"]
    assert await scalar(wapi, "SELECT count(*) FROM users") == users_before
    assert await scalar(wapi, "SELECT count(*) FROM audit_events") == audit_before


async def test_create_user_needs_an_admin(wapi: Api) -> None:
    user = await wapi.as_user("user000001@example.com")
    variables = {"input": {"email": "x@example.com", "name": "X"}}
    assert (await user.error(CREATE_USER, variables))["extensions"]["code"] == "FORBIDDEN"
    anonymous = wapi.as_(None)
    assert (await anonymous.error(CREATE_USER, variables))["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )


async def test_users_update_themselves_but_not_their_role(wapi: Api) -> None:
    row = await user_row(wapi, "user000001@example.com")
    me = await wapi.as_user("user000001@example.com")
    payload = (
        await me.data(
            UPDATE_USER,
            {"input": {"id": gid("User", row.id), "expectedVersion": 1, "name": "Renamed"}},
        )
    )["updateUser"]
    assert payload["user"]["name"] == "Renamed"
    assert payload["user"]["version"] == 2
    error = await me.error(
        UPDATE_USER,
        {"input": {"id": gid("User", row.id), "expectedVersion": 2, "role": "ADMIN"}},
    )
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await user_row(wapi, "user000001@example.com")).role == "user"


async def test_users_cannot_update_someone_else(wapi: Api) -> None:
    other = await user_row(wapi, "user000002@example.com")
    me = await wapi.as_user("user000001@example.com")
    error = await me.error(
        UPDATE_USER,
        {"input": {"id": gid("User", other.id), "expectedVersion": 1, "name": "Hacked"}},
    )
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert (await user_row(wapi, "user000002@example.com")).name == other.name


async def test_admin_changes_a_role(wapi: Api) -> None:
    row = await user_row(wapi, "user000001@example.com")
    payload = (
        await wapi.data(
            UPDATE_USER,
            {"input": {"id": gid("User", row.id), "expectedVersion": 1, "role": "ADMIN"}},
        )
    )["updateUser"]
    assert payload["user"]["role"] == "ADMIN"


async def test_stale_version_is_a_conflict_and_changes_nothing(wapi: Api) -> None:
    row = await user_row(wapi, "user000001@example.com")
    variables = {"input": {"id": gid("User", row.id), "expectedVersion": 1, "name": "First"}}
    assert (await wapi.data(UPDATE_USER, variables))["updateUser"]["user"]["version"] == 2
    stale = {"input": {"id": gid("User", row.id), "expectedVersion": 1, "name": "Second"}}
    error = await wapi.error(UPDATE_USER, stale)
    assert error["extensions"]["code"] == "CONFLICT"
    assert (await user_row(wapi, "user000001@example.com")).name == "First"


async def test_update_to_a_taken_email_is_a_field_error(wapi: Api) -> None:
    row = await user_row(wapi, "user000001@example.com")
    payload = (
        await wapi.data(
            UPDATE_USER,
            {
                "input": {
                    "id": gid("User", row.id),
                    "expectedVersion": 1,
                    "email": "User000002@example.com",
                }
            },
        )
    )["updateUser"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("email", "EMAIL_TAKEN")]


async def test_delete_user_refuses_a_user_with_orders(wapi: Api) -> None:
    row = await user_row(wapi, "user000001@example.com")
    payload = (
        await wapi.data(DELETE_USER, {"input": {"id": gid("User", row.id), "expectedVersion": 1}})
    )["deleteUser"]
    assert payload["deletedId"] is None
    assert [e["code"] for e in payload["errors"]] == ["USER_HAS_ORDERS"]


async def test_admin_deletes_a_user_without_orders(wapi: Api) -> None:
    created = (
        await wapi.data(CREATE_USER, {"input": {"email": "gone@example.com", "name": "Gone"}})
    )["createUser"]["user"]
    user = await wapi.as_user("user000001@example.com")
    forbidden = await user.error(
        DELETE_USER, {"input": {"id": created["id"], "expectedVersion": 1}}
    )
    assert forbidden["extensions"]["code"] == "FORBIDDEN"
    payload = (
        await wapi.data(DELETE_USER, {"input": {"id": created["id"], "expectedVersion": 1}})
    )["deleteUser"]
    assert payload == {"deletedId": created["id"], "errors": []}
    assert await scalar(wapi, "SELECT count(*) FROM users WHERE email = 'gone@example.com'") == 0
    assert (
        await scalar(wapi, "SELECT count(*) FROM audit_events WHERE action = 'user.deleted'") == 1
    )


@pytest.mark.parametrize("name", ["a\u0000b", "x" * 500_000])
async def test_unstorable_or_huge_text_is_a_field_error(wapi: Api, name: str) -> None:
    payload = (await wapi.data(CREATE_USER, {"input": {"email": "t@example.com", "name": name}}))[
        "createUser"
    ]
    assert payload["user"] is None
    assert [e["field"] for e in payload["errors"]] == ["name"]
