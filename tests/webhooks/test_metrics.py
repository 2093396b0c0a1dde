"""What /metrics reads about webhooks: the queue's depth and its oldest message's age,
and the attempt counters."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import create_async_engine

from app.webhooks.metrics import queue_stats
from tests.conftest import Api
from tests.helpers import pk
from tests.webhooks.conftest import bump_stock, create_webhook, deliveries, eventually
from tests.webhooks.receiver import Receiver

PAUSE = "mutation($id: ID!) { pauseWebhook(id: $id) { webhook { state } errors { code } } }"
RESUME = "mutation($id: ID!) { resumeWebhook(id: $id) { webhook { state } errors { code } } }"


def _delivered() -> float:
    return (
        REGISTRY.get_sample_value("ordergraph_webhook_attempts_total", {"outcome": "delivered"})
        or 0
    )


async def test_queue_depth_and_oldest_age_follow_what_waits(app: Api, receiver: Receiver) -> None:
    engine = create_async_engine(app.url)
    try:
        assert await queue_stats(engine) == {"depth": 0.0, "oldest_age_seconds": 0.0}
        webhook_id, _ = await create_webhook(app, receiver.url, ["PRODUCT_UPDATED"])
        await app.data(PAUSE, {"id": webhook_id})
        await bump_stock(app, 3)

        async def queued() -> bool:
            return len(await deliveries(app.url, pk(webhook_id))) == 3

        await eventually(queued, what="three messages waiting")
        waiting = await queue_stats(engine)
        assert waiting["depth"] == 3
        assert waiting["oldest_age_seconds"] > 0

        before = _delivered()
        await app.data(RESUME, {"id": webhook_id})
        await eventually(lambda: len(receiver.received) >= 3, what="the queue drained")

        async def drained() -> bool:
            return (await queue_stats(engine))["depth"] == 0

        await eventually(drained, what="an empty queue")
        assert await queue_stats(engine) == {"depth": 0.0, "oldest_age_seconds": 0.0}
        assert _delivered() == before + 3
    finally:
        await engine.dispose()
