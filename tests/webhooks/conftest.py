"""Webhook tests: the app with private targets allowed, a receiver, helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import seed
from tests.conftest import SMALL, Api, running_app
from tests.dbtools import fetch_all
from tests.graphql.mutations import UPDATE_PRODUCT
from tests.webhooks.receiver import Receiver

# Fast retries and small timeouts so the tests wait seconds, not the real minutes.
FAST: dict[str, Any] = {
    "webhook_allow_private": True,
    "webhook_poll_seconds": 0.1,
    "events_poll_seconds": 0.1,
    "webhook_backoff_base_seconds": 0.1,
    "webhook_backoff_max_seconds": 0.5,
    "webhook_timeout_seconds": 2,
    "webhook_lease_seconds": 4,
    "webhook_breaker_failures": 100,
}

CREATE_WEBHOOK = """mutation($url: String!, $events: [WebhookEventType!]!,
                            $filter: WebhookFilterInput, $query: String) {
  createWebhook(url: $url, events: $events, filter: $filter, query: $query) {
    secret webhook { id url events state } errors { field code message } } }"""
PRODUCTS = "{ products(first: 5) { edges { node { id version stock } } } }"


@pytest.fixture
async def seeded(empty_url: str) -> str:
    engine = create_async_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
    finally:
        await engine.dispose()
    return empty_url


@pytest.fixture
async def app(seeded: str) -> AsyncIterator[Api]:
    async with running_app(seeded, **FAST) as api:
        yield api


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


async def create_webhook(api: Api, url: str, events: list[str], **extra: Any) -> tuple[str, str]:
    """(webhook global id, secret)."""
    data = await api.data(CREATE_WEBHOOK, {"url": url, "events": events, **extra})
    payload = data["createWebhook"]
    assert payload["errors"] == [], payload
    return payload["webhook"]["id"], payload["secret"]


async def bump_stock(api: Api, times: int) -> list[str]:
    """`times` product updates, one transaction each; the product ids in order."""
    products = (await api.data(PRODUCTS))["products"]["edges"]
    versions = {edge["node"]["id"]: edge["node"]["version"] for edge in products}
    order = []
    for n in range(times):
        product_id = products[n % len(products)]["node"]["id"]
        data = await api.data(
            UPDATE_PRODUCT,
            {"input": {"id": product_id, "expectedVersion": versions[product_id], "stock": n}},
        )
        assert data["updateProduct"]["errors"] == [], data
        versions[product_id] = data["updateProduct"]["product"]["version"]
        order.append(product_id)
    return order


async def eventually(check: Callable[[], Any], *, within: float = 30, what: str = "") -> Any:
    """Wait (polling) until `check()` is truthy; its value. Fails after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what or check}"
        await asyncio.sleep(0.05)


async def deliveries(url: str, webhook_pk: object) -> list[Any]:
    return await fetch_all(
        url,
        "SELECT * FROM webhook_deliveries WHERE webhook_id = :w ORDER BY seq",
        w=webhook_pk,
    )
