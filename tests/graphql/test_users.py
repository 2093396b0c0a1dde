"""The users connection: filters, ordering, both directions, and user(id)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.graphql.operations import USERS
from tests.helpers import gid, pk, walk


async def expected(engine: AsyncEngine, where: str, order: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT id FROM users WHERE {where} ORDER BY {order}"), params
        )
        return [row.id for row in rows]


@pytest.mark.parametrize(
    ("order_by", "sql"),
    [
        (None, "created_at, id"),
        ({"field": "CREATED_AT", "direction": "DESC"}, "created_at DESC, id DESC"),
        ({"field": "EMAIL", "direction": "ASC"}, "email, id"),
        ({"field": "NAME", "direction": "ASC"}, "name, id"),
        ({"field": "NAME", "direction": "DESC"}, "name DESC, id DESC"),
    ],
)
@pytest.mark.parametrize("backward", [False, True])
async def test_users_walk_every_ordering_in_both_directions(
    api: Api, engine: AsyncEngine, order_by: dict[str, str] | None, sql: str, backward: bool
) -> None:
    nodes = await walk(
        api, USERS, {"orderBy": order_by}, path=("users",), size=7, backward=backward
    )
    assert [pk(node["id"]) for node in nodes] == await expected(engine, "true", sql)


@pytest.mark.parametrize(
    ("filter", "where", "params"),
    [
        ({"email": "USER00001"}, "email ILIKE :p", {"p": "%user00001%"}),
        ({"name": "love"}, "name ILIKE :p", {"p": "%love%"}),
        ({"role": "ADMIN"}, "role = 'admin'", {}),
        ({"role": "USER", "name": "a"}, "role = 'user' AND name ILIKE '%a%'", {}),
        (
            {"createdAt": {"from": "2026-01-01T00:05:00Z", "to": "2026-01-01T00:15:00+00:00"}},
            "created_at >= '2026-01-01T00:05:00Z' AND created_at < '2026-01-01T00:15:00Z'",
            {},
        ),
    ],
)
async def test_users_filter(
    api: Api, engine: AsyncEngine, filter: dict[str, Any], where: str, params: dict[str, Any]
) -> None:
    want = await expected(engine, where, "created_at, id", **params)
    assert want, "the filter should match something in the standard data set"
    data = await api.data(USERS, {"filter": filter, "first": 100})
    assert [pk(edge["node"]["id"]) for edge in data["users"]["edges"]] == want
    assert data["users"]["totalCount"] == len(want)


async def test_users_substring_filter_treats_wildcards_literally(api: Api) -> None:
    data = await api.data(USERS, {"filter": {"email": "%"}})
    assert data["users"]["edges"] == []
    assert data["users"]["totalCount"] == 0


async def test_user_by_id_returns_the_user_or_null(api: Api, engine: AsyncEngine) -> None:
    [user_id] = await expected(engine, "email = 'admin@example.com'", "id")
    query = "query($id: ID!) { user(id: $id) { id email role } }"
    data = await api.data(query, {"id": gid("User", user_id)})
    assert data["user"] == {
        "id": gid("User", user_id),
        "email": "admin@example.com",
        "role": "ADMIN",
    }
    missing = gid("User", uuid.uuid4())
    assert (await api.data(query, {"id": missing}))["user"] is None
