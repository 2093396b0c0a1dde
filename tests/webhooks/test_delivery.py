"""Delivery to a real receiver: once, in order, signed as Standard Webhooks says."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import Api
from tests.helpers import pk
from tests.webhooks.conftest import bump_stock, create_webhook, deliveries, eventually
from tests.webhooks.receiver import Receiver

ROTATE = """mutation($id: ID!) { rotateWebhookSecret(id: $id) {
  secret webhook { previousSecretExpiresAt } errors { code } } }"""


async def test_a_burst_arrives_once_each_and_in_commit_order(app: Api, receiver: Receiver) -> None:
    webhook_id, _ = await create_webhook(app, receiver.url, ["PRODUCT_UPDATED"])
    committed = await bump_stock(app, 40)

    await eventually(lambda: len(set(receiver.ids())) >= 40, what="40 messages")
    first_seen: dict[str, dict[str, object]] = {}
    for request in receiver.received:
        first_seen.setdefault(request.id, request.json)
    bodies = list(first_seen.values())
    assert len(bodies) == 40
    assert [body["data"]["node"]["stock"] for body in bodies] == list(range(40))  # type: ignore[index]
    assert [body["data"]["node"]["id"] for body in bodies] == committed  # type: ignore[index]
    assert {body["type"] for body in bodies} == {"product.updated"}
    rows = await deliveries(app.url, pk(webhook_id))
    assert [row.status for row in rows] == ["delivered"] * 40
    assert [row.message_id for row in rows] == list(first_seen)


async def test_the_signature_verifies_with_the_reference_library(
    app: Api, receiver: Receiver
) -> None:
    _, secret = await create_webhook(app, receiver.url, ["PRODUCT_UPDATED"])
    assert secret.startswith("whsec_")
    await bump_stock(app, 3)
    await eventually(lambda: len(receiver.received) >= 3)
    for request in receiver.received:
        payload = Webhook(secret).verify(request.body, request.headers)
        assert payload["type"] == "product.updated"
    tampered = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered.body + b" ", tampered.headers)


async def test_both_secrets_sign_during_a_rotation(app: Api, receiver: Receiver) -> None:
    webhook_id, old = await create_webhook(app, receiver.url, ["PRODUCT_UPDATED"])
    rotated = (await app.data(ROTATE, {"id": webhook_id}))["rotateWebhookSecret"]
    new = rotated["secret"]
    assert rotated["errors"] == []
    assert new != old
    assert rotated["webhook"]["previousSecretExpiresAt"] is not None
    await bump_stock(app, 2)
    await eventually(lambda: len(receiver.received) >= 2)
    for request in receiver.received:
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        Webhook(old).verify(request.body, request.headers)
        Webhook(new).verify(request.body, request.headers)
    someone_else = "whsec_" + "A" * 32
    with pytest.raises(WebhookVerificationError):
        Webhook(someone_else).verify(receiver.received[0].body, receiver.received[0].headers)
