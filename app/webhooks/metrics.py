"""Webhook counters (prometheus_client) and the queue's state, for /metrics."""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

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
