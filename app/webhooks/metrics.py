"""Webhook counters (prometheus_client) and the queue's state, for /metrics."""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import metrics
from app.db.engine import connect

ATTEMPTS = Counter(
    "ordergraph_webhook_attempts", "Webhook delivery attempts, by outcome.", ["outcome"]
)
FAILURES = Counter(
    "ordergraph_webhook_failures", "Webhook delivery attempts that failed, by reason.", ["reason"]
)
DISABLED = Counter(
    "ordergraph_webhooks_disabled", "Webhook endpoints disabled after failing too long."
)


async def queue_stats(engine: AsyncEngine) -> dict[str, float]:
    """{"depth": messages waiting, "oldest_age_seconds": age of the oldest of them}."""
    async with connect(engine) as conn:
        row = (
            await conn.execute(
                text(
                    """
                    SELECT count(*) AS depth,
                           coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
                    FROM webhook_deliveries WHERE status = 'pending'
                    """
                )
            )
        ).one()
    return {"depth": float(row.depth), "oldest_age_seconds": float(row.age)}


async def queue_gauges(engine: AsyncEngine) -> list[metrics.Reading]:
    """Read when /metrics is scraped (app.metrics.register_collector)."""
    stats = await queue_stats(engine)
    return [
        metrics.Reading(
            "ordergraph_webhook_queue_depth",
            "Webhook deliveries waiting to be sent.",
            stats["depth"],
        ),
        metrics.Reading(
            "ordergraph_webhook_oldest_pending_seconds",
            "Age of the oldest webhook delivery waiting to be sent.",
            stats["oldest_age_seconds"],
        ),
    ]


metrics.register_collector(queue_gauges)
