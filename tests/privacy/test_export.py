"""exportMyData and exportUserData: a signed single-use link to one JSON document with
everything about the person, and nothing about anyone else."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from tests.conftest import Api
from tests.dbtools import fetch_all, fetch_value
from tests.helpers import gid
from tests.privacy.conftest import (
    EXPORT_MY_DATA,
    EXPORT_USER_DATA,
    Person,
    relayed,
    with_history,
)

OTHER = "user000002@example.com"


async def download(api: Api, url: str) -> dict[str, Any]:
    response = await api.client.get(url.removeprefix("http://test"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert "attachment" in response.headers["content-disposition"]
    document: dict[str, Any] = orjson.loads(response.content)
    return document


async def everything_about_others(api: Api, person: Person) -> list[str]:
    """Every other user's id, email and name, and the ids of their orders and tokens."""
    rows = await fetch_all(
        api.url,
        "SELECT id::text, email, name FROM users WHERE id <> :u",
        u=person.id,
    )
    values = [value for row in rows for value in row]
    for table in ("orders", "api_tokens"):
        ids = await fetch_all(
            api.url, f"SELECT id::text FROM {table} WHERE user_id <> :u", u=person.id
        )
        values += [row[0] for row in ids]
    return values


async def test_export_my_data_holds_everything_about_me(papi: Api) -> None:
    person = await with_history(papi, "user000001@example.com", tag="x")
    await with_history(papi, OTHER, tag="y")  # someone else, just as busy
    await relayed(papi.url)
    payload = (await papi.as_(person.token).data(EXPORT_MY_DATA))["exportMyData"]
    assert payload["errors"] == []

    document = await download(papi, payload["url"])

    assert document["format"] == "ordergraph.personal-data/1"
    assert document["user"]["id"] == str(person.id)
    assert document["user"]["email"] == person.email
    assert document["user"]["name"] == person.name
    assert [i["subject"] for i in document["identities"]] == [person.subject]
    tokens = await fetch_all(
        papi.url,
        "SELECT id::text FROM api_tokens WHERE user_id = :u ORDER BY created_at",
        u=person.id,
    )
    assert [t["id"] for t in document["apiTokens"]] == [row[0] for row in tokens]
    assert all("tokenHash" not in t and "token_hash" not in t for t in document["apiTokens"])
    orders = await fetch_all(
        papi.url,
        "SELECT o.id::text, o.total::text, count(i.id) FROM orders o "
        "JOIN order_items i ON i.order_id = o.id WHERE o.user_id = :u "
        "GROUP BY o.id ORDER BY o.created_at, o.id",
        u=person.id,
    )
    assert [(o["id"], o["total"], len(o["items"])) for o in document["orders"]] == [
        tuple(row) for row in orders
    ]
    audit_ids = await fetch_all(
        papi.url,
        "SELECT id::text FROM audit_events WHERE actor_id = :u OR entity_id = :u "
        "OR entity_id IN (SELECT id FROM orders WHERE user_id = :u) "
        "OR entity_id IN (SELECT id FROM api_tokens WHERE user_id = :u)",
        u=person.id,
    )
    assert sorted(a["id"] for a in document["auditEvents"]) == sorted(r[0] for r in audit_ids)
    assert {"user.updated", "token.created", "order.placed", "user.identity_bound"} <= {
        a["action"] for a in document["auditEvents"]
    }
    positions = await fetch_all(
        papi.url,
        "SELECT position FROM events WHERE (topic = 'user' AND entity_id = :u) "
        "OR (topic = 'order' AND owner_id = :u) ORDER BY position",
        u=person.id,
    )
    assert [e["position"] for e in document["events"]] == [row[0] for row in positions]
    assert document["events"]  # their renames and their order


async def test_an_export_holds_nothing_about_anyone_else(papi: Api) -> None:
    person = await with_history(papi, "user000001@example.com", tag="p")
    await with_history(papi, OTHER, tag="q")
    await relayed(papi.url)
    url = (await papi.data(EXPORT_USER_DATA, {"input": {"id": gid("User", person.id)}}))[
        "exportUserData"
    ]["url"]

    raw = (await papi.client.get(url.removeprefix("http://test"))).text

    assert person.email in raw
    for value in await everything_about_others(papi, person):
        assert value not in raw, value


async def test_an_admins_export_keeps_their_actions_on_others_without_the_values(
    papi: Api,
) -> None:
    admin_id = await fetch_value(papi.url, "SELECT id FROM users WHERE role = 'admin'")
    other = await with_history(papi, OTHER, tag="r")  # the admin renamed them
    url = (await papi.data(EXPORT_USER_DATA, {"input": {"id": gid("User", admin_id)}}))[
        "exportUserData"
    ]["url"]

    document = await download(papi, url)

    renames = [a for a in document["auditEvents"] if a["entityId"] == str(other.id)]
    assert renames
    assert all(a["changes"] is None for a in renames)
    assert other.name not in orjson.dumps(document).decode()


async def test_an_export_link_works_once_and_only_for_its_purpose(papi: Api) -> None:
    person = await with_history(papi, "user000001@example.com", tag="s")
    url = (await papi.as_(person.token).data(EXPORT_MY_DATA))["exportMyData"]["url"]
    await download(papi, url)
    again = await papi.client.get(url.removeprefix("http://test"))
    assert again.status_code == 410
    assert again.json()["errors"][0]["extensions"]["code"] == "LINK_USED"
    bare = await papi.client.get("/privacy/export")
    assert bare.status_code == 400
    assert bare.json()["errors"][0]["extensions"]["field"] == "link"
    export = await papi.data(
        "mutation { createExportLink(input: {kind: ORDERS, format: JSON}) { url } }"
    )
    token = export["createExportLink"]["url"].split("?link=")[1]
    wrong = await papi.client.get(f"/privacy/export?link={token}")
    assert wrong.status_code == 403
    assert wrong.json()["errors"][0]["extensions"]["code"] == "LINK_INVALID"


async def test_only_admins_export_someone_else(papi: Api) -> None:
    person = await with_history(papi, "user000001@example.com", tag="t")
    other_id = await fetch_value(papi.url, "SELECT id FROM users WHERE email = :e", e=OTHER)
    customer = papi.as_(person.token)
    refused = await customer.error(EXPORT_USER_DATA, {"input": {"id": gid("User", other_id)}})
    assert refused["extensions"]["code"] == "FORBIDDEN"
    anonymous = await papi.as_(None).error(EXPORT_MY_DATA)
    assert anonymous["extensions"]["code"] == "UNAUTHENTICATED"
    missing = await papi.error(EXPORT_USER_DATA, {"input": {"id": gid("User", uuid.UUID(int=7))}})
    assert missing["extensions"]["code"] == "NOT_FOUND"
