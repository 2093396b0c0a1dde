"""Erasing a person: the proofs (a whole-database pg_dump and the Redis namespace hold
neither their email nor their name; their orders still add up), and the rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.viewer import Viewer
from app.privacy.erasure import pseudonym
from app.privacy.routes import PURPOSE
from tests.conftest import Api
from tests.dbtools import fetch_all, fetch_value
from tests.helpers import gid
from tests.privacy.conftest import (
    ERASE_MY_DATA,
    ERASE_USER,
    EXPORT_MY_DATA,
    app_state,
    order_sums,
    pg_dump,
    redis_contents,
    relayed,
    with_history,
)

OTHER = "user000002@example.com"
HOUR = timedelta(hours=1)


async def test_after_erasure_a_pg_dump_holds_neither_email_nor_name(papi: Api) -> None:
    person = await with_history(papi, "user000001@example.com", tag="a")
    other = await with_history(papi, OTHER, tag="b")
    await relayed(papi.url)
    before = await pg_dump(papi.url)
    for present in (person.email, person.name, person.old_name):
        assert present in before

    erased = await papi.data(ERASE_USER, {"input": {"id": gid("User", person.id)}})

    assert erased["eraseUser"]["errors"] == []
    alias = pseudonym(person.id)
    assert erased["eraseUser"]["user"] == {
        "id": gid("User", person.id),
        "email": alias.email,
        "name": alias.name,
        "role": "USER",
    }
    await relayed(papi.url)
    dump = await pg_dump(papi.url)
    for secret in (person.email, person.name, person.old_name, person.subject):
        assert secret not in dump, secret
    # The dump is whole: everyone else is still in it.
    for kept in (other.email, other.name, other.old_name, alias.email):
        assert kept in dump, kept


async def test_after_erasure_no_redis_key_or_value_holds_email_or_name(
    papi: Api, redis_url: str
) -> None:
    person = await with_history(papi, "user000001@example.com", tag="c")
    other = await with_history(papi, OTHER, tag="d")
    cache = app_state(papi).field_cache
    for who in (person, other):
        # What a cached field about a person holds: their email and name, as JSON.
        await cache.get_or_compute(
            type_name="User",
            field_name="card",
            parent_id=str(who.id),
            arguments={},
            viewer=who.id,
            tags=[f"user:{who.id}"],
            ttl=600,
            compute=lambda who=who: _card(who.email, who.name),
            encode=lambda value: value.encode(),
            decode=lambda raw: raw.decode(),
        )
    await papi.data("{ users(first: 5) { edges { node { orderStats { count } } } } }")
    stored = b"\n".join(await redis_contents(redis_url, cache.namespace))
    assert person.email.encode() in stored
    assert person.name.encode() in stored

    erased = await papi.data(ERASE_USER, {"input": {"id": gid("User", person.id)}})
    assert erased["eraseUser"]["errors"] == []

    stored = b"\n".join(await redis_contents(redis_url, cache.namespace))
    for secret in (person.email, person.name, person.old_name):
        assert secret.encode() not in stored, secret
    assert other.email.encode() in stored  # only the erased person's values went


async def _card(email: str, name: str) -> str:
    return f'{{"email": "{email}", "name": "{name}"}}'


async def test_the_erased_users_orders_still_add_up(papi: Api) -> None:
    person = await with_history(papi, "user000001@example.com", tag="e")
    sums = await order_sums(papi.url, person.id)
    assert len(sums) == 2  # the seeded one and the one placed
    assert all(total == items for _, total, items in sums)

    await papi.data(ERASE_USER, {"input": {"id": gid("User", person.id)}})

    assert await order_sums(papi.url, person.id) == sums
    products = await fetch_value(
        papi.url,
        "SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id "
        "JOIN products p ON p.id = i.product_id WHERE o.user_id = :u",
        u=person.id,
    )
    assert products == 3  # two seeded lines and one placed, each still naming its product


async def test_erasure_stops_every_way_in_and_scrubs_the_records(papi: Api) -> None:
    person = await with_history(papi, "user000001@example.com", tag="f")
    customer = papi.as_(person.token)
    token_link = (await customer.data(EXPORT_MY_DATA))["exportMyData"]["url"]
    # As a JWT signs in: no API token to revoke, only the user.
    jwt_link = await app_state(papi).links.sign(
        purpose=PURPOSE,
        subject=Viewer(user_id=person.id, role="user", expires_at=datetime.now(UTC) + HOUR),
        params={"user": person.id.hex},
        expires_at=datetime.now(UTC) + HOUR,
    )

    await papi.data(ERASE_USER, {"input": {"id": gid("User", person.id)}})

    response = await papi.client.post(
        "/graphql", json={"query": "{ viewer { id } }"}, headers=customer.headers
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # Links signed before the erasure do not download afterwards.
    for url in (token_link.removeprefix("http://test"), f"/privacy/export?link={jwt_link}"):
        response = await papi.client.get(url)
        assert response.status_code == 401, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (
        await fetch_value(
            papi.url,
            "SELECT count(*) FROM api_tokens WHERE user_id = :u AND revoked_at IS NULL",
            u=person.id,
        )
        == 0
    )
    for table in ("user_identities", "order_requests"):
        count = await fetch_value(
            papi.url, f"SELECT count(*) FROM {table} WHERE user_id = :u", u=person.id
        )
        assert count == 0, table
    assert (
        await fetch_value(
            papi.url, "SELECT count(*) FROM erased_users WHERE user_id = :u", u=person.id
        )
        == 1
    )


async def test_the_erasure_and_the_redaction_are_audited_without_personal_data(
    papi: Api,
) -> None:
    person = await with_history(papi, "user000001@example.com", tag="g")
    admin_id = await fetch_value(papi.url, "SELECT id FROM users WHERE role = 'admin'")
    await papi.data(ERASE_USER, {"input": {"id": gid("User", person.id)}})

    rows = await fetch_all(
        papi.url,
        "SELECT action, actor_id, changes::text FROM audit_events "
        "WHERE entity_id = :u AND action IN ('user.erased', 'audit.redacted') ORDER BY occurred_at",
        u=person.id,
    )
    actions = [row[0] for row in rows]
    assert actions == ["audit.redacted", "audit.redacted", "user.erased"]
    assert all(row[1] == admin_id for row in rows)  # who asked
    for _, _, changes in rows:
        assert person.email not in changes
        assert person.name not in changes
    redacted = await fetch_all(
        papi.url,
        "SELECT changes->'name'->>'after' FROM audit_events "
        "WHERE entity_id = :u AND action = 'user.updated'",
        u=person.id,
    )
    assert {row[0] for row in redacted} == {pseudonym(person.id).name}


async def test_erase_my_data_needs_the_accounts_email(papi: Api) -> None:
    person = await with_history(papi, "user000001@example.com", tag="h")
    customer = papi.as_(person.token)

    wrong = await customer.data(ERASE_MY_DATA, {"input": {"confirm": "yes please"}})
    assert wrong["eraseMyData"] == {
        "user": None,
        "errors": [
            {
                "field": "confirm",
                "code": "CONFIRMATION_MISMATCH",
                "message": "Type the email address of your account to confirm; erasure "
                "cannot be undone.",
            }
        ],
    }
    assert await fetch_value(papi.url, "SELECT email FROM users WHERE id = :u", u=person.id) == (
        person.email
    )
    assert await fetch_value(papi.url, "SELECT count(*) FROM erased_users") == 0

    done = await customer.data(ERASE_MY_DATA, {"input": {"confirm": f"  {person.email.upper()} "}})
    assert done["eraseMyData"]["errors"] == []
    assert done["eraseMyData"]["user"]["email"] == pseudonym(person.id).email
    # The record of a self-erasure keeps no address or user agent of theirs.
    assert (
        await fetch_value(
            papi.url,
            "SELECT count(*) FROM audit_events WHERE actor_id = :u AND client_addr IS NOT NULL",
            u=person.id,
        )
        == 0
    )


async def test_only_admins_erase_others_and_nobody_twice(papi: Api) -> None:
    person = await with_history(papi, "user000001@example.com", tag="i")
    other_id = await fetch_value(papi.url, "SELECT id FROM users WHERE email = :e", e=OTHER)
    refused = await papi.as_(person.token).error(
        ERASE_USER, {"input": {"id": gid("User", other_id)}}
    )
    assert refused["extensions"]["code"] == "FORBIDDEN"

    await papi.data(ERASE_USER, {"input": {"id": gid("User", person.id)}})
    again = await papi.data(ERASE_USER, {"input": {"id": gid("User", person.id)}})
    assert [e["code"] for e in again["eraseUser"]["errors"]] == ["ALREADY_ERASED"]
    missing = await papi.error(ERASE_USER, {"input": {"id": gid("User", uuid.UUID(int=1))}})
    assert missing["extensions"]["code"] == "NOT_FOUND"


async def test_audit_events_stay_append_only_but_for_purge_and_redaction(wapi: Api) -> None:
    engine = create_async_engine(wapi.url)
    user_id = await fetch_value(wapi.url, "SELECT id FROM users WHERE role = 'user' LIMIT 1")
    try:
        for statement in (
            "UPDATE audit_events SET changes = '{}'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
            # The redaction's own UPDATE, but not called from redact_audit_person.
            "DO $$ BEGIN UPDATE audit_events SET client_addr = NULL; END $$",
        ):
            async with engine.begin() as conn:
                with pytest.raises(DBAPIError, match="append-only"):
                    await conn.execute(text(statement))
        async with engine.begin() as conn:
            with pytest.raises(DBAPIError, match="only email, name, identity"):
                await conn.execute(
                    text(
                        "SELECT redact_audit_person(:u, ARRAY[:u]::uuid[], ARRAY['role'], "
                        "'{\"role\": \"x\"}', NULL, 'cli')"
                    ),
                    {"u": user_id},
                )
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO audit_events (actor_kind, action, entity_type, entity_id, "
                    "changes, occurred_at) VALUES ('cli', 'user.updated', 'User', :u, "
                    '\'{"name": {"before": "Old Name", "after": "New Name"}}\', '
                    "now() - interval '10 years')"
                ),
                {"u": user_id},
            )
            redacted = await conn.scalar(
                text(
                    "SELECT redact_audit_person(:u, ARRAY[:u]::uuid[], ARRAY['name'], "
                    "'{\"name\": \"Someone\"}', NULL, 'cli')"
                ),
                {"u": user_id},
            )
            assert redacted >= 1
            purged = await conn.scalar(
                text("SELECT purge_audit_events(now() - interval '5 years', 10, :u, 'cli')"),
                {"u": user_id},
            )
            assert purged == 1
        assert (
            await fetch_value(
                wapi.url, "SELECT count(*) FROM audit_events WHERE changes::text LIKE '%Old Name%'"
            )
            == 0
        )
    finally:
        await engine.dispose()


def test_the_pseudonym_is_the_ids_alone() -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    assert pseudonym(one) == pseudonym(one)
    assert pseudonym(one) != pseudonym(two)
    assert str(one) not in pseudonym(one).email
    assert pseudonym(one).email.endswith("@erased.invalid")
