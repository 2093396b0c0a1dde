"""Failing endpoints: retries until the receiver is back, the breaker, disabling,
and the ways to send again (redeliver, replay, ping, pause and resume)."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import REGISTRY

from tests.conftest import Api, running_app
from tests.dbtools import fetch_all, fetch_value
from tests.helpers import pk
from tests.webhooks.conftest import FAST, bump_stock, create_webhook, deliveries, eventually
from tests.webhooks.receiver import Receiver

WEBHOOK = """query($id: ID!) { node(id: $id) { ... on Webhook {
  state disabledReason breakerState consecutiveFailures } } }"""
DELIVERIES = """query($id: ID!, $status: WebhookDeliveryStatus) {
  webhookDeliveries(webhookId: $id, status: $status, first: 50) { totalCount edges { node {
    id messageId eventType eventCursor status attempts lastStatusCode lastLatencyMs
    lastError responseSnippet } } } }"""
REDELIVER = """mutation($id: ID!) { redeliverWebhook(deliveryId: $id) {
  delivery { id messageId status } errors { code } } }"""
RESUME = "mutation($id: ID!) { resumeWebhook(id: $id) { webhook { state } errors { code } } }"
PAUSE = "mutation($id: ID!) { pauseWebhook(id: $id) { webhook { state } errors { code } } }"
REPLAY = """mutation($id: ID!, $after: String!) { replayWebhook(id: $id, after: $after) {
  queued errors { code } } }"""
PING = "mutation($id: ID!) { testWebhook(id: $id) { delivery { eventType } errors { code } } }"


async def _webhook(api: Api, webhook_id: str) -> dict[str, object]:
    node: dict[str, object] = (await api.data(WEBHOOK, {"id": webhook_id}))["node"]
    return node


async def test_a_receiver_down_for_a_while_gets_everything_after(
    app: Api, receiver: Receiver
) -> None:
    webhook_id, _ = await create_webhook(app, receiver.url, ["PRODUCT_UPDATED"])
    receiver.stop()
    await bump_stock(app, 10)

    async def failed_twice() -> bool:
        rows = await deliveries(app.url, pk(webhook_id))
        return bool(rows) and rows[0].attempts >= 2

    await eventually(failed_twice, what="attempts against a closed port")
    rows = await deliveries(app.url, pk(webhook_id))
    assert rows[0].last_error is not None
    assert rows[0].status == "pending"
    receiver.start()

    await eventually(lambda: len(set(receiver.ids())) >= 10, what="the backlog")
    stocks = [request.json["data"]["node"]["stock"] for request in receiver.received]
    assert list(dict.fromkeys(stocks)) == list(range(10))
    rows = await deliveries(app.url, pk(webhook_id))
    assert {row.status for row in rows} == {"delivered"}


async def test_the_breaker_opens_after_failures_and_closes_after_a_success(
    seeded: str, receiver: Receiver
) -> None:
    statuses = iter([500, 500, 500, 503])
    receiver.status = lambda _: next(statuses, 200)
    settings = {**FAST, "webhook_breaker_failures": 3, "webhook_breaker_open_seconds": 1.5}
    async with running_app(seeded, **settings) as api:
        webhook_id, _ = await create_webhook(api, receiver.url, ["PRODUCT_UPDATED"])
        await bump_stock(api, 1)

        async def opened() -> bool:
            return (await _webhook(api, webhook_id))["breakerState"] == "OPEN"

        await eventually(opened, what="the breaker to open")
        assert len(receiver.received) == 3
        until: datetime = await fetch_value(
            api.url, "SELECT breaker_until FROM webhooks WHERE id = :id", id=pk(webhook_id)
        )
        await eventually(lambda: len(receiver.received) >= 5, what="the trials")
        # Nothing was sent while it was open: the trial came when its time was up.
        assert receiver.received[3].wall >= until.timestamp()

        async def closed() -> bool:
            # The receiver counts a request on arrival; the success is recorded after.
            return (await _webhook(api, webhook_id))["breakerState"] == "CLOSED"

        await eventually(closed, what="the breaker to close")
        node = await _webhook(api, webhook_id)
        assert node["consecutiveFailures"] == 0
        rows = await deliveries(api.url, pk(webhook_id))
        assert [(row.status, row.attempts, row.last_status_code) for row in rows] == [
            ("delivered", 5, 200)
        ]


async def test_an_endpoint_failing_too_long_is_disabled_then_redelivered(
    seeded: str, receiver: Receiver
) -> None:
    receiver.status = lambda _: 500
    disabled_before = REGISTRY.get_sample_value("ordergraph_webhooks_disabled_total") or 0
    async with running_app(seeded, **FAST, webhook_disable_after_seconds=1) as api:
        webhook_id, _ = await create_webhook(api, receiver.url, ["PRODUCT_UPDATED"])
        await bump_stock(api, 2)

        async def disabled() -> bool:
            return (await _webhook(api, webhook_id))["state"] == "DISABLED"

        await eventually(disabled, what="the endpoint to be disabled")
        assert "WEBHOOK_DISABLE_AFTER_SECONDS" in str(
            (await _webhook(api, webhook_id))["disabledReason"]
        )
        assert (
            REGISTRY.get_sample_value("ordergraph_webhooks_disabled_total") == disabled_before + 1
        )
        audit = await fetch_all(
            api.url,
            "SELECT actor_kind FROM audit_events WHERE action = 'webhook.disabled' "
            "AND entity_id = :id",
            id=pk(webhook_id),
        )
        assert [row.actor_kind for row in audit] == ["system"]
        failed = (await api.data(DELIVERIES, {"id": webhook_id, "status": "FAILED"}))[
            "webhookDeliveries"
        ]["edges"]
        assert len(failed) == 1
        dead = failed[0]["node"]
        assert dead["lastStatusCode"] == 500
        assert dead["responseSnippet"] == "ok"
        assert dead["attempts"] >= 1

        receiver.status = lambda _: 200
        again = (await api.data(REDELIVER, {"id": dead["id"]}))["redeliverWebhook"]
        assert again["errors"] == []
        assert again["delivery"]["messageId"] == dead["messageId"]
        assert (await api.data(RESUME, {"id": webhook_id}))["resumeWebhook"]["webhook"][
            "state"
        ] == "ACTIVE"
        await eventually(lambda: _all_delivered(api, webhook_id), what="both delivered")
        # The redelivery queues after what was waiting: the second event, then it.
        assert receiver.received[-1].id == dead["messageId"]
        assert receiver.received[-2].json["data"]["node"]["stock"] == 1


async def _all_delivered(api: Api, webhook_id: str) -> bool:
    rows = await deliveries(api.url, pk(webhook_id))
    return sum(1 for row in rows if row.status == "delivered") == 2


async def test_replay_sends_again_every_event_after_a_cursor(app: Api, receiver: Receiver) -> None:
    webhook_id, _ = await create_webhook(app, receiver.url, ["PRODUCT_UPDATED"])
    await bump_stock(app, 5)
    await eventually(lambda: len(receiver.received) >= 5)
    log = (await app.data(DELIVERIES, {"id": webhook_id}))["webhookDeliveries"]["edges"]
    oldest_first = [edge["node"] for edge in reversed(log)]
    replay = await app.data(REPLAY, {"id": webhook_id, "after": oldest_first[1]["eventCursor"]})
    assert replay["replayWebhook"] == {"queued": 3, "errors": []}

    await eventually(lambda: len(receiver.received) >= 8, what="the replay")
    assert receiver.ids()[5:] == [node["messageId"] for node in oldest_first[2:]]
    stocks = [request.json["data"]["node"]["stock"] for request in receiver.received]
    assert stocks == [0, 1, 2, 3, 4, 2, 3, 4]


async def test_a_ping_and_a_paused_endpoint_catching_up(app: Api, receiver: Receiver) -> None:
    webhook_id, _ = await create_webhook(app, receiver.url, ["PRODUCT_UPDATED"])
    ping = (await app.data(PING, {"id": webhook_id}))["testWebhook"]
    assert ping == {"delivery": {"eventType": "webhook.ping"}, "errors": []}
    await eventually(lambda: len(receiver.received) >= 1)
    assert receiver.received[0].json["type"] == "webhook.ping"

    assert (await app.data(PAUSE, {"id": webhook_id}))["pauseWebhook"]["webhook"][
        "state"
    ] == "PAUSED"
    await bump_stock(app, 3)

    async def queued() -> bool:
        rows = await deliveries(app.url, pk(webhook_id))
        return len(rows) == 4

    await eventually(queued, what="events queued while paused")
    rows = await deliveries(app.url, pk(webhook_id))
    assert [row.status for row in rows[1:]] == ["pending"] * 3
    assert [row.attempts for row in rows[1:]] == [0] * 3
    await app.data(RESUME, {"id": webhook_id})
    await eventually(lambda: len(receiver.received) >= 4, what="the queue after resuming")
    assert [r.json["data"]["node"]["stock"] for r in receiver.received[1:]] == [0, 1, 2]
