"""Payload documents: validated at registration, shaped as asked, run with the owner's
rights; only admins manage webhooks."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Api
from tests.dbtools import fetch_value
from tests.graphql.mutations import PLACE_ORDER, UPDATE_USER
from tests.helpers import gid, pk
from tests.webhooks.conftest import CREATE_WEBHOOK, create_webhook, deliveries, eventually
from tests.webhooks.receiver import Receiver

SHAPED = "subscription { orderEvents { type node { id status user { email } } } }"
USERS = """{ users(first: 10) { edges { node { id email role version } } } }"""
PRODUCT = "{ products(first: 5) { edges { node { id stock } } } }"


async def _place_order(api: Api) -> str:
    edges = (await api.data(PRODUCT))["products"]["edges"]
    product = next(e["node"]["id"] for e in edges if e["node"]["stock"] > 2)
    data = await api.data(
        PLACE_ORDER,
        {
            "input": {
                "items": [{"productId": product, "quantity": 1}],
                "idempotencyKey": uuid.uuid4().hex,
            }
        },
    )
    assert data["placeOrder"]["errors"] == [], data
    order_id: str = data["placeOrder"]["order"]["id"]
    return order_id


async def _set_role(admin: Api, email: str, role: str) -> None:
    users = {e["node"]["email"]: e["node"] for e in (await admin.data(USERS))["users"]["edges"]}
    user = users[email]
    data = await admin.data(
        UPDATE_USER, {"input": {"id": user["id"], "expectedVersion": user["version"], "role": role}}
    )
    assert data["updateUser"]["errors"] == [], data


async def test_a_document_shapes_the_payload(app: Api, receiver: Receiver) -> None:
    await create_webhook(app, receiver.url, ["ORDER_CREATED"], query=SHAPED)
    customer = await app.as_user("user000001@example.com")
    order_id = await _place_order(customer)

    await eventually(lambda: receiver.received, what="the order's message")
    body = receiver.received[0].json
    assert body["type"] == "order.created"
    assert body["data"] == {
        "type": "CREATED",
        "node": {"id": order_id, "status": "PENDING", "user": {"email": "user000001@example.com"}},
    }
    assert "errors" not in body


async def test_payloads_are_rendered_with_the_owners_rights(app: Api, receiver: Receiver) -> None:
    owner_email = "user000000@example.com"
    await _set_role(app, owner_email, "ADMIN")
    owner = await app.as_user(owner_email)
    webhook_id, _ = await create_webhook(owner, receiver.url, ["ORDER_CREATED"], query=SHAPED)
    await _set_role(app, owner_email, "USER")

    someone_else = await _place_order(await app.as_user("user000001@example.com"))
    own = await _place_order(owner)

    await eventually(lambda: receiver.received, what="the owner's order")
    position_of_theirs = await fetch_value(
        app.url, "SELECT position FROM events WHERE entity_id = :id", id=pk(someone_else)
    )
    cursor = await fetch_value(
        app.url, "SELECT cursor FROM webhooks WHERE id = :id", id=pk(webhook_id)
    )
    assert cursor > position_of_theirs  # taken in, and left out: the owner may not see it
    queued = await deliveries(app.url, pk(webhook_id))
    assert [row.event_position for row in queued] != [position_of_theirs]
    assert [request.json["data"]["node"]["id"] for request in receiver.received] == [own]
    assert receiver.received[0].json["data"]["node"]["user"] == {"email": owner_email}


@pytest.mark.parametrize(
    ("query", "events", "field", "code"),
    [
        ("subscription { orderEvents { nope } }", ["ORDER_CREATED"], "query", "INVALID_DOCUMENT"),
        ("subscription { orderEvents {", ["ORDER_CREATED"], "query", "INVALID_DOCUMENT"),
        ("{ viewer { id } }", ["ORDER_CREATED"], "query", "INVALID_DOCUMENT"),
        (
            'subscription { orderEvents(after: "x") { type } }',
            ["ORDER_CREATED"],
            "query",
            "INVALID_DOCUMENT",
        ),
        (
            "subscription { productEvents { type } }",
            ["ORDER_CREATED"],
            "events",
            "EVENT_NOT_IN_DOCUMENT",
        ),
        (None, [], "events", "REQUIRED"),
    ],
)
async def test_registration_refuses_what_cannot_work(
    app: Api, receiver: Receiver, query: str | None, events: list[str], field: str, code: str
) -> None:
    data = await app.data(CREATE_WEBHOOK, {"url": receiver.url, "events": events, "query": query})
    payload = data["createWebhook"]
    assert payload["secret"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await fetch_value(app.url, "SELECT count(*) FROM webhooks") == 0


async def test_only_admins_manage_webhooks(app: Api, receiver: Receiver) -> None:
    customer = await app.as_user("user000001@example.com")
    error = await customer.error(CREATE_WEBHOOK, {"url": receiver.url, "events": ["USER_UPDATED"]})
    assert error["extensions"]["code"] == "FORBIDDEN"
    listing = await customer.error("{ webhooks(first: 5) { totalCount } }")
    assert listing["extensions"]["code"] == "FORBIDDEN"
    webhook_id, _ = await create_webhook(app, receiver.url, ["USER_UPDATED"])
    node = await customer.error("query($id: ID!) { node(id: $id) { id } }", {"id": webhook_id})
    assert node["extensions"]["code"] == "FORBIDDEN"
    listed = await app.data("{ webhooks(first: 5) { totalCount edges { node { id } } } }")
    assert listed["webhooks"]["totalCount"] == 1
    assert gid("Webhook", pk(webhook_id)) == webhook_id
