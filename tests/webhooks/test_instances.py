"""Real server processes: one killed mid-delivery loses nothing; two never send the same
message at once."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db.seed import ADMIN_EMAIL
from tests.conftest import token_for
from tests.dbtools import fetch_all
from tests.events.conftest import Server, start_server, stop_server
from tests.graphql.mutations import UPDATE_PRODUCT
from tests.redis_server import find_redis
from tests.webhooks.conftest import CREATE_WEBHOOK, PRODUCTS, eventually
from tests.webhooks.receiver import Received, Receiver

ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_POLL_SECONDS": "0.2",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_LEASE_SECONDS": "3",
    "WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
    "WEBHOOK_BACKOFF_MAX_SECONDS": "1",
}


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with find_redis() as url:
        yield url


async def _call(server: Server, token: str, query: str, **variables: Any) -> Any:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            server.http,
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def _bump(server: Server, token: str, times: int) -> None:
    edges = (await _call(server, token, PRODUCTS))["products"]["edges"]
    versions = {e["node"]["id"]: e["node"]["version"] for e in edges}
    for n in range(times):
        product = edges[n % len(edges)]["node"]["id"]
        data = await _call(
            server,
            token,
            UPDATE_PRODUCT,
            input={"id": product, "expectedVersion": versions[product], "stock": n},
        )
        versions[product] = data["updateProduct"]["product"]["version"]


async def _webhook(server: Server, token: str, url: str) -> str:
    data = await _call(server, token, CREATE_WEBHOOK, url=url, events=["PRODUCT_UPDATED"])
    assert data["createWebhook"]["errors"] == []
    webhook_id: str = data["createWebhook"]["webhook"]["id"]
    return webhook_id


def _first_seen(received: list[Received]) -> list[int]:
    stocks: dict[str, int] = {}
    for request in received:
        stocks.setdefault(request.id, request.json["data"]["node"]["stock"])
    return list(stocks.values())


async def test_a_server_killed_mid_delivery_loses_nothing(
    seeded: str, redis_url: str, tmp_path: Path
) -> None:
    token = await token_for(seeded, ADMIN_EMAIL)
    hold = threading.Event()
    holding = threading.Event()

    def status(request: Received) -> int:
        if not holding.is_set():
            holding.set()
            hold.wait(10)  # the first message hangs until its sender is dead
        return 200

    receiver = Receiver(status=status).start()
    a = start_server(seeded, redis_url, tmp_path / "a.log", **ENV)
    try:
        await _webhook(a, token, receiver.url)
        await _bump(a, token, 10)
        await eventually(holding.is_set, what="a delivery in flight")
        os.kill(a.process.pid, signal.SIGKILL)
        a.process.wait(10)
        a.log.close()
        hold.set()
        b = start_server(seeded, redis_url, tmp_path / "b.log", **ENV)
        try:
            await eventually(lambda: len(set(receiver.ids())) >= 10, within=60, what="everything")
        finally:
            stop_server(b)
    finally:
        receiver.stop()
    ids = receiver.ids()
    assert ids.count(ids[0]) == 2  # the interrupted message, sent again by b
    assert _first_seen(receiver.received) == list(range(10))
    rows = await fetch_all(seeded, "SELECT status FROM webhook_deliveries")
    assert [row.status for row in rows] == ["delivered"] * 10


async def test_two_instances_never_send_the_same_message_at_once(
    seeded: str, redis_url: str, tmp_path: Path
) -> None:
    token = await token_for(seeded, ADMIN_EMAIL)
    receiver = Receiver(delay=0.01).start()
    a = start_server(seeded, redis_url, tmp_path / "a.log", **ENV)
    b = start_server(seeded, redis_url, tmp_path / "b.log", **ENV)
    try:
        for n in range(6):
            await _webhook(a if n % 2 else b, token, f"{receiver.url}/{n}")
        await _bump(a, token, 15)
        await _bump(b, token, 15)
        await eventually(lambda: len(receiver.received) >= 180, within=60, what="180 messages")
    finally:
        stop_server(a)
        stop_server(b)
        receiver.stop()
    assert receiver.overlaps == []
    ids = receiver.ids()
    assert len(ids) == len(set(ids)) == 180  # every message once: no attempt sent twice
    by_path: dict[str, list[Received]] = {}
    for request in receiver.received:
        by_path.setdefault(request.path, []).append(request)
    assert len(by_path) == 6
    for requests in by_path.values():
        assert [r.json["data"]["node"]["stock"] for r in requests] == list(range(15)) * 2
    senders = await fetch_all(seeded, "SELECT DISTINCT claimed_by FROM webhook_deliveries")
    print("instances that delivered:", len(senders))


async def test_a_turn_longer_than_the_lease_renews_it_and_never_overlaps(
    seeded: str, redis_url: str, tmp_path: Path
) -> None:
    """Results are written in batches, yet a turn that outlasts WEBHOOK_LEASE_SECONDS
    renews the lease in time: the second instance never takes the endpoint mid-turn."""
    token = await token_for(seeded, ADMIN_EMAIL)
    receiver = Receiver(delay=0.25).start()  # 20 messages: a turn of 5 s, the lease is 2 s
    env = {**ENV, "WEBHOOK_LEASE_SECONDS": "2", "WEBHOOK_TIMEOUT_SECONDS": "0.8"}
    a = start_server(seeded, redis_url, tmp_path / "a.log", **env, WEBHOOK_DISPATCH="false")
    try:
        await _webhook(a, token, receiver.url)
        await _bump(a, token, 20)
        b = start_server(seeded, redis_url, tmp_path / "b.log", **env)
        c = start_server(seeded, redis_url, tmp_path / "c.log", **env)
        try:
            await eventually(lambda: len(receiver.received) >= 20, within=60, what="20 messages")
        finally:
            stop_server(b)
            stop_server(c)
    finally:
        stop_server(a)
        receiver.stop()
    assert receiver.overlaps == []
    ids = receiver.ids()
    assert len(ids) == len(set(ids)) == 20  # no instance took the endpoint over mid-turn
    assert _first_seen(receiver.received) == list(range(20))
    spans = sorted((r.started, r.finished) for r in receiver.received)
    assert spans[-1][1] - spans[0][0] > 2 * 2  # the turn did outlast the lease, twice
