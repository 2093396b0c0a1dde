"""Prometheus metrics: what /metrics carries, and how other packages add to it.

The families (all prefixed `ordergraph_`; see the README's table):

    graphql_operation_seconds{operation,type}   histogram: each GraphQL operation's time
    graphql_operation_statements{type}           histogram: SQL statements one operation sent
    graphql_errors_total{code}                   errors answered, by extensions.code
    db_pool_size / db_pool_open / db_pool_in_use / db_pool_waiting    the connection pool
    field_cache_total{event}                     hits, misses, coalesced, errors, invalidations
    subscribers, live_subscribers{transport}     ws, sse, multipart
    outbox_lag_seconds, event_log_position       read from PostgreSQL when scraped
    exports_streaming, export_rows_total, event_* sharing counters, sse_* gauges
    imports_total{entity,result}, import_rows_total{entity,outcome}   CSV imports

Several workers: `ordergraph serve` gives every run a fresh directory
(PROMETHEUS_MULTIPROC_DIR) before the workers start; each worker writes its values there
and any of them answers /metrics for all (prometheus_client's multiprocess mode).

Adding gauges read when scraped (a queue's depth, a lag): register one async function,
once, at import time of your package::

    from app import metrics

    async def webhook_gauges(engine: AsyncEngine) -> list[metrics.Reading]:
        stats = await queue_stats(engine)
        return [metrics.Reading("ordergraph_webhook_queue_depth", "Deliveries waiting.",
                                stats.depth)]

    metrics.register_collector(webhook_gauges)

It runs in the worker that answers the scrape, with the read-only (autocommit) engine,
within COLLECT_TIMEOUT seconds; a failure or a timeout leaves its readings out of that
scrape (and is logged), never the scrape itself. Keep it to one cheap statement.
"""

from app.metrics.collectors import COLLECT_TIMEOUT, Reading, ScrapeCollector, register_collector
from app.metrics.families import Metrics

__all__ = ["COLLECT_TIMEOUT", "Metrics", "Reading", "ScrapeCollector", "register_collector"]
