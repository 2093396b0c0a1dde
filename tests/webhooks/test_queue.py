"""The queue's claim: an instance never claims again an endpoint it is working on.

Its lease is the instance's (`claimed_by` names the instance), so a second turn of its
own on the same endpoint would renew that lease unnoticed and send the same messages
twice; the dispatcher passes the endpoints it is working on as `busy`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from app.db.engine import transaction
from app.webhooks import queue
from tests.conftest import Api, running_app
from tests.helpers import pk
from tests.webhooks.conftest import FAST, bump_stock, create_webhook, eventually
from tests.webhooks.receiver import Receiver


@pytest.fixture
async def idle(seeded: str) -> AsyncIterator[Api]:
    """The app without its dispatcher: the test claims by hand."""
    async with running_app(seeded, **{**FAST, "webhook_dispatch": False}) as api:
        yield api


async def test_an_endpoint_being_worked_on_here_is_never_claimed_again(
    idle: Api, receiver: Receiver
) -> None:
    webhook_id, _ = await create_webhook(idle, receiver.url, ["PRODUCT_UPDATED"])
    await bump_stock(idle, 2)
    engine = idle.app.state.engine
    async with transaction(engine) as conn:
        await eventually(lambda: queue.enqueue(conn), what="the messages queued")
    me = "instance-a"
    async with transaction(engine) as conn:
        [first] = await queue.claim(conn, me=me, lease=30, limit=5, busy=[])
    assert first.id == pk(webhook_id)
    # Its lease runs out while this instance still works on it (a stalled turn)...
    async with transaction(engine) as conn:
        await conn.execute(text("UPDATE webhooks SET claimed_until = now() - interval '1 second'"))
    async with transaction(engine) as conn:
        again = await queue.claim(conn, me=me, lease=30, limit=5, busy=[first.id])
    assert again == []  # ...and the same instance does not start a second turn on it
    async with transaction(engine) as conn:
        other = await queue.claim(conn, me="instance-b", lease=30, limit=5, busy=[])
    assert [claimed.id for claimed in other] == [first.id]  # another instance may
