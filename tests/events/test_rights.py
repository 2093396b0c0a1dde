"""Rights on a long connection: revocation and demotion end subscriptions on time however
busy the feed, on the WebSocket and on every HTTP transport (both graphql-sse modes,
Apollo multipart), and every operation on a socket has its own viewer."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from app.auth.api_tokens import token_hash
from app.db.seed import ADMIN_EMAIL
from tests.conftest import token_for
from tests.dbtools import fetch_value
from tests.events.conftest import RECHECK_SECONDS, Cluster, Server
from tests.events.feeds import a_product, set_stock, steady_orders
from tests.events.http_streams import HTTP_TRANSPORTS, Results, ended, http_subscription
from tests.graphql.mutations import CREATE_USER, UPDATE_USER
from tests.helpers import gid
from tests.wsclient import Session, connect

ORDERS_WITH_EMAILS = """subscription {
  orderEvents { cursor node { id user { email } } } }"""
REVOKE = "mutation($i: RevokeApiTokenInput!) { revokeApiToken(input: $i) { errors { code } } }"
# The credential's change reaches a subscriber within the recheck window on the instance
# that made it, and within that plus the authenticator's cache (as long again) on the
# others; the rest is slack for a loaded machine.
BOUND_SECONDS = 2 * RECHECK_SECONDS + 4


async def latest_token_id(cluster: Cluster) -> Any:
    return await fetch_value(
        cluster.url, "SELECT id FROM api_tokens ORDER BY created_at DESC LIMIT 1"
    )


async def busy_feed(cluster: Cluster, offset: int) -> tuple[uuid.UUID, str]:
    """A product in stock for a stream of orders, and the customer who places them."""
    product_id = await a_product(cluster, offset)
    await set_stock(cluster, product_id, 100_000)
    return product_id, await cluster.token("user000001@example.com")


async def until_refused(session: Session, op: str, *, changed_at: float) -> dict[str, Any]:
    """Read the stream until its error, which must come within BOUND_SECONDS of the
    change (the events before it are the ones delivered while the check was not due)."""
    while True:
        left = changed_at + BOUND_SECONDS - time.monotonic()
        assert left > 0, f"still streaming {BOUND_SECONDS} s after the credential changed"
        try:
            message = await session.receive(wait=left)
        except TimeoutError:
            pytest.fail(f"neither an event nor the end within {BOUND_SECONDS} s")
        assert message["id"] == op, message
        if message["type"] != "next" or "errors" in message["payload"]:
            return message


async def assert_ended(session: Session, message: dict[str, Any], *, reason: str) -> None:
    assert message["type"] == "next", message
    [error] = message["payload"]["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED", error
    assert reason in error["message"]
    assert (await session.receive())["type"] == "complete"
    # Orders are still being placed: nothing more arrives on this socket.
    with pytest.raises(TimeoutError):
        await session.receive(wait=2 * RECHECK_SECONDS + 1)


async def test_a_revoked_token_ends_a_busy_subscription_in_time(cluster: Cluster) -> None:
    product_id, customer = await busy_feed(cluster, 0)
    token = await token_for(cluster.url, ADMIN_EMAIL)
    token_id = await latest_token_id(cluster)
    async with (
        connect(cluster.b.ws, token=token) as session,
        steady_orders(cluster, customer, product_id),
    ):
        op = await session.subscribe(ORDERS_WITH_EMAILS)
        for _ in range(3):
            event = (await session.next_data(op))["orderEvents"]
            assert event["node"]["user"]["email"] == "user000001@example.com"
        # Revoked on the other instance: this one learns of it through the database.
        await revoke(cluster, cluster.a, token_id)
        message = await until_refused(session, op, changed_at=time.monotonic())
        await assert_ended(session, message, reason="revoked")


async def test_a_demoted_admin_loses_a_busy_subscription_in_time(cluster: Cluster) -> None:
    product_id, customer = await busy_feed(cluster, 1)
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    created = await cluster.call(
        cluster.a,
        cluster.admin,
        CREATE_USER,
        input={"email": email, "name": "Second Admin", "role": "ADMIN"},
    )
    user = created["createUser"]["user"]
    token = await token_for(cluster.url, email)
    async with (
        connect(cluster.b.ws, token=token) as session,
        steady_orders(cluster, customer, product_id),
    ):
        op = await session.subscribe(ORDERS_WITH_EMAILS)
        for _ in range(3):
            await session.next_data(op)
        demoted = await cluster.call(
            cluster.b,
            cluster.admin,
            UPDATE_USER,
            input={"id": user["id"], "expectedVersion": user["version"], "role": "USER"},
        )
        assert demoted["updateUser"]["user"]["role"] == "USER"
        message = await until_refused(session, op, changed_at=time.monotonic())
        await assert_ended(session, message, reason="rights changed")


async def test_a_revoked_token_refuses_the_next_operation_and_never_runs_as_nobody(
    cluster: Cluster,
) -> None:
    product_id, customer = await busy_feed(cluster, 2)
    token = await token_for(cluster.url, ADMIN_EMAIL)
    token_id = await latest_token_id(cluster)
    async with (
        connect(cluster.b.ws, token=token) as session,
        steady_orders(cluster, customer, product_id),
    ):
        running = await session.subscribe(ORDERS_WITH_EMAILS)
        await session.next_data(running)
        # Revoked on this socket's instance, which forgets the token at once.
        await revoke(cluster, cluster.b, token_id)
        refused = await session.subscribe("{ viewer { id } }")
        revoked_at = time.monotonic()
        messages: dict[str, list[dict[str, Any]]] = {running: [], refused: []}
        while not any(m["type"] == "complete" for m in messages[running]):
            assert time.monotonic() < revoked_at + BOUND_SECONDS, messages
            message = await session.receive(wait=BOUND_SECONDS)
            messages[message["id"]].append(message)
    # The new operation is refused, not answered as anonymous.
    assert len(messages[refused]) == 1, messages[refused]
    [answer] = messages[refused]
    assert answer["type"] == "error", answer
    assert answer["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "revoked" in answer["payload"][0]["message"]
    # The running one keeps its viewer until its own check ends it: no event of it was
    # resolved as nobody (an anonymous viewer sees no one's email).
    *events, end, complete = messages[running]
    for event in events:
        assert "errors" not in event["payload"], event
        assert event["payload"]["data"]["orderEvents"]["node"]["user"]["email"], event
    assert end["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert complete["type"] == "complete"


async def revoke(cluster: Cluster, server: Server, token_id: uuid.UUID) -> None:
    data = await cluster.call(server, cluster.admin, REVOKE, i={"id": gid("ApiToken", token_id)})
    assert data["revokeApiToken"]["errors"] == []


async def token_id(cluster: Cluster, token: str) -> Any:
    return await fetch_value(
        cluster.url, "SELECT id FROM api_tokens WHERE token_hash = :h", h=token_hash(token)
    )


async def until_refused_over_http(results: Results, *, changed_at: float) -> dict[str, Any]:
    """The first result with errors, which must come within BOUND_SECONDS."""
    while True:
        left = changed_at + BOUND_SECONDS - time.monotonic()
        assert left > 0, f"still streaming {BOUND_SECONDS} s after the credential changed"
        try:
            async with asyncio.timeout(left):
                result = await anext(results)
        except TimeoutError:
            pytest.fail(f"neither an event nor the end within {BOUND_SECONDS} s")
        if "errors" in result:
            return result
        assert result["data"]["orderEvents"]["node"]["user"]["email"], result


async def assert_ended_over_http(results: Results, result: dict[str, Any], *, reason: str) -> None:
    [error] = result["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED", error
    assert reason in error["message"]
    # Orders are still being placed: the stream completes, nothing more on it.
    assert await ended(results, BOUND_SECONDS)


@pytest.mark.parametrize("transport", HTTP_TRANSPORTS)
async def test_a_revoked_token_ends_a_busy_http_subscription_in_time(
    cluster: Cluster, transport: str
) -> None:
    product_id, customer = await busy_feed(cluster, 3)
    token = await token_for(cluster.url, ADMIN_EMAIL)
    revoked = await token_id(cluster, token)
    async with (
        steady_orders(cluster, customer, product_id),
        http_subscription(transport, cluster.b, token, ORDERS_WITH_EMAILS) as results,
    ):
        for _ in range(3):
            event = (await anext(results))["data"]["orderEvents"]
            assert event["node"]["user"]["email"] == "user000001@example.com"
        # Revoked on the other instance: this one learns of it through the database.
        await revoke(cluster, cluster.a, revoked)
        result = await until_refused_over_http(results, changed_at=time.monotonic())
        await assert_ended_over_http(results, result, reason="revoked")


@pytest.mark.parametrize("transport", HTTP_TRANSPORTS)
async def test_a_demoted_admin_loses_a_busy_http_subscription_in_time(
    cluster: Cluster, transport: str
) -> None:
    product_id, customer = await busy_feed(cluster, 4)
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    created = await cluster.call(
        cluster.a,
        cluster.admin,
        CREATE_USER,
        input={"email": email, "name": "Another Admin", "role": "ADMIN"},
    )
    user = created["createUser"]["user"]
    token = await token_for(cluster.url, email)
    async with (
        steady_orders(cluster, customer, product_id),
        http_subscription(transport, cluster.b, token, ORDERS_WITH_EMAILS) as results,
    ):
        for _ in range(3):
            await anext(results)
        demoted = await cluster.call(
            cluster.b,
            cluster.admin,
            UPDATE_USER,
            input={"id": user["id"], "expectedVersion": user["version"], "role": "USER"},
        )
        assert demoted["updateUser"]["user"]["role"] == "USER"
        result = await until_refused_over_http(results, changed_at=time.monotonic())
        await assert_ended_over_http(results, result, reason="rights changed")
