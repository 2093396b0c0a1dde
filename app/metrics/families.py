"""The metric families of one app, and the per-process values sampled into them."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

if TYPE_CHECKING:
    from app.imports.run import ImportResult

# The *_created samples double a scrape's size and tell Prometheus nothing it uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Seconds: a point lookup is about a millisecond, a heavy page tens of them.
OPERATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
STATEMENT_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144)
# Operation names are the client's choice: past this many distinct ones per process the
# rest are counted as "other", so a client cannot grow the scrape without bound.
MAX_OPERATION_NAMES = 200
TRANSPORTS = ("ws", "sse", "multipart")


class Metrics:
    """Every family, registered in `registry` (one per app; in multiprocess mode the
    values also go to this worker's files, which the exposition reads instead)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry = registry or CollectorRegistry()
        self.operation_seconds = Histogram(
            "ordergraph_graphql_operation_seconds",
            "Time to execute a GraphQL operation, by operation name and type.",
            ["operation", "type"],
            buckets=OPERATION_BUCKETS,
            registry=registry,
        )
        self.operation_statements = Histogram(
            "ordergraph_graphql_operation_statements",
            "SQL statements one GraphQL operation sent, by operation type.",
            ["type"],
            buckets=STATEMENT_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "ordergraph_graphql_errors",
            "GraphQL errors answered, by extensions.code.",
            ["code"],
            registry=registry,
        )

        def live(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
            # A gauge of this process, summed over the live ones (a dead worker's leave).
            return Gauge(
                name, documentation, labels, multiprocess_mode="livesum", registry=registry
            )

        self.pool_size = live("ordergraph_db_pool_size", "Most connections the pools may open.")
        self.pool_open = live("ordergraph_db_pool_open", "Connections the pools hold.")
        self.pool_in_use = live(
            "ordergraph_db_pool_in_use", "Connections checked out of the pools."
        )
        self.pool_waiting = live(
            "ordergraph_db_pool_waiting", "Requests waiting for a pooled connection."
        )
        self.subscribers = live("ordergraph_subscribers", "Live subscriptions (every transport).")
        self.live_subscribers = live(
            "ordergraph_live_subscribers",
            "Live subscriptions by transport: ws, sse, multipart.",
            ("transport",),
        )
        self.exports_streaming = live("ordergraph_exports_streaming", "Exports being streamed now.")
        self.sse_reservations = live(
            "ordergraph_sse_reservations", "Reserved event streams (single connection)."
        )
        self.sse_operations = live(
            "ordergraph_sse_operations", "Operations on reserved event streams."
        )
        self.field_cache = Counter(
            "ordergraph_field_cache",
            "Field cache events: hits, misses, coalesced, errors, invalidations.",
            ["event"],
            registry=registry,
        )
        self.export_rows = Counter(
            "ordergraph_export_rows", "Rows read by streamed exports.", registry=registry
        )
        self.event_executions = Counter(
            "ordergraph_event_executions",
            "Executions of subscription documents for events.",
            registry=registry,
        )
        self.event_results_shared = Counter(
            "ordergraph_event_results_shared",
            "Event deliveries that took another subscriber's result.",
            registry=registry,
        )
        self.event_frames_direct = Counter(
            "ordergraph_event_frames_direct",
            "Event frames written on the fast path.",
            registry=registry,
        )
        self.imports = Counter(
            "ordergraph_imports",
            "CSV imports run (importProducts, importUsers), by entity and result: "
            "written, dry_run, rejected.",
            ["entity", "result"],
            registry=registry,
        )
        self.import_rows = Counter(
            "ordergraph_import_rows",
            "Rows of CSV imports, by entity and outcome: created, updated, unchanged, failed.",
            ["entity", "outcome"],
            registry=registry,
        )
        # Each replica as this worker's last check saw it (app.db.replicas).
        self.replica_up = Gauge(
            "ordergraph_replica_up",
            "1 while a read replica is usable (answers, is a standby, within REPLICA_MAX_LAG_MS).",
            ["replica"],
            multiprocess_mode="livemin",
            registry=registry,
        )
        self.replica_lag = Gauge(
            "ordergraph_replica_lag_seconds",
            "How far a read replica's replay is behind the primary.",
            ["replica"],
            multiprocess_mode="livemax",
            registry=registry,
        )
        self._names: set[str] = set()
        self._seen: dict[str, float] = {}
        for transport in TRANSPORTS:
            self.live_subscribers.labels(transport)

    def operation_label(self, name: str | None) -> str:
        """The operation's name as a label value (bounded; see MAX_OPERATION_NAMES)."""
        if not name:
            return "anonymous"
        if name in self._names:
            return name
        if len(self._names) >= MAX_OPERATION_NAMES:
            return "other"
        self._names.add(name)
        return name

    def imported(self, entity: str, result: ImportResult) -> None:
        """Count an import that ran (its rows even when nothing was written)."""
        outcome = "dry_run" if result.dry_run else "written" if result.written else "rejected"
        self.imports.labels(entity, outcome).inc()
        for name in ("created", "updated", "unchanged", "failed"):
            count = getattr(result, name)
            if count:
                self.import_rows.labels(entity, name).inc(count)

    def advance(self, counter: Any, key: str, total: float) -> None:
        """Move `counter` to this process's running `total` (it only goes up)."""
        delta = total - self._seen.get(key, 0.0)
        if delta > 0:
            counter.inc(delta)
            self._seen[key] = total

    def sample(self, state: Any) -> None:
        """Copy this process's own counts (the app's state) into the families. Cheap:
        a few dozen attribute reads; run every second and before each scrape."""
        for probe in _PROBES:
            probe(self, state)


def _pool(metrics: Metrics, state: Any) -> None:
    from app.db.engine import pool_waiting

    engine = getattr(state, "engine", None)
    if engine is None:
        return
    pool = engine.sync_engine.pool
    metrics.pool_size.set(pool.size() + max(getattr(pool, "_max_overflow", 0), 0))
    metrics.pool_in_use.set(pool.checkedout())
    metrics.pool_open.set(pool.checkedin() + pool.checkedout())
    metrics.pool_waiting.set(pool_waiting(engine))


def _cache(metrics: Metrics, state: Any) -> None:
    cache = getattr(state, "field_cache", None)
    if cache is None:
        return
    counts: Tally[str] = Tally(cache.stats)
    counts["errors"] += getattr(cache.store, "errors", 0)
    for event in ("hits", "misses", "coalesced", "errors", "invalidations"):
        child = metrics.field_cache.labels(event)
        metrics.advance(child, f"cache:{event}", counts[event])


def _subscribers(metrics: Metrics, state: Any) -> None:
    broker = getattr(state, "broker", None)
    if broker is None:
        return
    metrics.subscribers.set(broker.subscriber_count)
    by_transport: Mapping[str, int] = broker.by_transport
    for transport in TRANSPORTS:
        metrics.live_subscribers.labels(transport).set(by_transport.get(transport, 0))


def _streams(metrics: Metrics, state: Any) -> None:
    from app.exports.routes import Streams

    metrics.exports_streaming.set(Streams.active)
    metrics.advance(metrics.export_rows, "export_rows", Streams.rows)
    reservations = getattr(state, "sse_reservations", None)
    if reservations is not None:
        metrics.sse_reservations.set(reservations.count)
        metrics.sse_operations.set(reservations.operation_count)
    shared = getattr(state, "shared_results", None)
    if shared is not None:
        metrics.advance(metrics.event_executions, "executions", shared.executions)
        metrics.advance(metrics.event_results_shared, "shared", shared.shared)
        metrics.advance(metrics.event_frames_direct, "direct", shared.direct)


def _replicas(metrics: Metrics, state: Any) -> None:
    from app.db.replicas import replica_stats

    for stat in replica_stats(getattr(state, "replicas", None)):
        metrics.replica_up.labels(stat.name).set(1 if stat.up else 0)
        if stat.lag_seconds is not None:
            metrics.replica_lag.labels(stat.name).set(stat.lag_seconds)


_PROBES: tuple[Callable[[Metrics, Any], None], ...] = (
    _pool,
    _cache,
    _subscribers,
    _streams,
    _replicas,
)
