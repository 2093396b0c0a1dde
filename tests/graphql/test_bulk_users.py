"""bulkDeleteUsers: USER_HAS_ORDERS per user, policies, credentials, batching, rights."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api, token_for
from tests.dbtools import fetch_all, fingerprint
from tests.graphql.bulkdata import events_of, new_users
from tests.graphql.mutations import BULK_DELETE_USERS
from tests.helpers import gid

USER = "user000001@example.com"


async def delete(api: Api, ids: list[str], policy: str) -> Any:
    payload: Any = (await api.data(BULK_DELETE_USERS, {"ids": ids, "policy": policy}))[
        "bulkDeleteUsers"
    ]
    return payload


async def with_orders(api: Api) -> uuid.UUID:
    row = (await fetch_all(api.url, "SELECT user_id FROM orders ORDER BY user_id LIMIT 1"))[0]
    user_id: uuid.UUID = row.user_id
    return user_id


async def test_users_with_orders_are_kept_and_the_rest_deleted(wapi: Api) -> None:
    free = await new_users(wapi.url, 2)
    busy = await with_orders(wapi)
    sent = [gid("User", free[0]), gid("User", busy), gid("User", free[1])]
    before = await fingerprint(wapi.url)
    refused = await delete(wapi, sent, "REJECT_EVERYTHING")
    assert (refused["count"], refused["failedCount"]) == (0, 1)
    assert [(e["index"], e["id"], e["code"]) for e in refused["errors"]] == [
        (1, sent[1], "USER_HAS_ORDERS")
    ]
    assert await fingerprint(wapi.url) == before

    payload = await delete(wapi, sent, "REJECT_FAILED_ROWS")
    assert payload["deletedIds"] == [sent[0], sent[2]]
    assert [e["code"] for e in payload["errors"]] == ["USER_HAS_ORDERS"]
    left = await fetch_all(wapi.url, "SELECT id FROM users WHERE id = ANY(:ids)", ids=[*free, busy])
    assert [row.id for row in left] == [busy]
    audit = await fetch_all(
        wapi.url, "SELECT entity_id FROM audit_events WHERE action = 'user.deleted'"
    )
    assert {row.entity_id for row in audit} == set(free)
    events = await events_of(wapi.url, "DELETED", free)
    assert [(e.entity_id, e.owner_id) for e in events] == [(free[0], free[0]), (free[1], free[1])]

    again = await delete(wapi, sent[:1], "IGNORE_FAILED")
    assert (again["count"], again["failedCount"], again["errors"]) == (0, 1, [])


async def test_a_deleted_users_token_stops_working_at_once(wapi: Api) -> None:
    (user_id,) = await new_users(wapi.url, 1)
    email = (await fetch_all(wapi.url, "SELECT email FROM users WHERE id = :i", i=user_id))[0]
    them = wapi.as_(await token_for(wapi.url, email.email))
    assert (await them.data("{ viewer { id } }"))["viewer"]["id"] == gid("User", user_id)
    await delete(wapi, [gid("User", user_id)], "REJECT_EVERYTHING")
    body = await them.client.post(
        "/graphql", json={"query": "{ viewer { id } }"}, headers=them.headers
    )
    assert body.status_code == 401
    assert body.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_statements_do_not_grow_with_the_user_count(wapi: Api) -> None:
    ids = await new_users(wapi.url, 30)
    counts = []
    for chunk in (ids[:2], ids[2:30]):
        await wapi.counted(
            BULK_DELETE_USERS,
            {"ids": [gid("User", i) for i in chunk], "policy": "REJECT_FAILED_ROWS"},
        )
        counts.append(len(wapi.statements.statements))
    assert counts[0] == counts[1], wapi.statements.statements


async def test_only_admins_delete_users_in_bulk(wapi: Api) -> None:
    ids = await new_users(wapi.url, 2)
    user = await wapi.as_user(USER)
    before = await fingerprint(wapi.url)
    for api, code in ((user, "FORBIDDEN"), (wapi.as_(None), "UNAUTHENTICATED")):
        error = await api.error(
            BULK_DELETE_USERS,
            {"ids": [gid("User", i) for i in ids], "policy": "REJECT_FAILED_ROWS"},
        )
        assert error["extensions"]["code"] == code
    assert await fingerprint(wapi.url) == before
