"""The ASGI application: routes, and a lifespan that owns the engine."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute
from strawberry.subscriptions import (
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)

from app.auth.authenticate import Authenticator
from app.auth.signed_links import SignedLinks
from app.cache.fields import FieldCache
from app.cache.store import MemoryStore, NullStore, RedisStore, Store
from app.console.pages import console_routes
from app.db.embedded import start_embedded_postgres
from app.db.engine import create_engine, read_only
from app.db.replicas import LSN_HEADER, Replicas
from app.errors import ServiceUnavailable
from app.events.broker import Broker
from app.events.bus import Bus, LocalBus, RedisBus
from app.events.records import Event
from app.events.relay import Relay
from app.exports import export_routes
from app.exports.pdf.routes import invoice_routes
from app.graphql.events.sharing import shared_results
from app.graphql.http import PREFLIGHT_HEADERS, GraphQLApp
from app.graphql.schema import build_schema
from app.graphql.sse import Reservations
from app.graphql.webhooks.rendering import renderer
from app.metrics import Metrics
from app.metrics.exposition import metrics_route
from app.metrics.multiprocess import sampling
from app.observability import tracing
from app.observability.slow_queries import SlowQueries
from app.observability.statements import instrument
from app.privacy.routes import privacy_routes
from app.ratelimit.limiter import RateLimiter
from app.retention.schedule import RetentionSchedule
from app.settings import Settings, get_settings
from app.web.draining import Drain, SignalHandoff
from app.web.health import Readiness, healthz, readyz
from app.webhooks.running import running_webhooks

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        url = (
            settings.database_url.get_secret_value()
            if settings.database_url
            else start_embedded_postgres(settings.data_dir)
        )
        engine = create_engine(settings, url)
        drain = Drain(delay=settings.shutdown_drain_seconds)
        # In order: WebSockets go away (1001) first, so graphql-ws clients reconnect
        # instead of seeing their subscriptions end; then every other subscriber ends.
        drain.on_drain(graphql.close_sockets)
        drain.on_drain(lambda: _end_subscribers(app))
        handoff = SignalHandoff(drain, asyncio.get_running_loop())
        handoff.install()
        app.state.drain = drain
        slow = (
            SlowQueries(
                engine,
                threshold_ms=settings.slow_query_ms,
                plans_per_minute=settings.slow_query_plans_per_minute,
            )
            if settings.slow_query_ms
            else None
        )
        instrument(engine, slow)
        tracing.instrument_engine(engine)
        app.state.settings = settings
        app.state.engine = engine
        app.state.reader = read_only(engine)
        # Queries may read from replicas; everything else stays on the primary.
        replicas = Replicas.from_settings(settings, engine)
        app.state.replicas = replicas
        app.state.readiness = Readiness(
            reader=app.state.reader,
            drain=drain,
            redis_url=settings.redis_url.get_secret_value() if settings.redis_url else None,
        )
        app.state.authenticator = Authenticator(settings, app.state.reader)
        app.state.shared_results = shared_results(schema._schema)
        app.state.links = SignedLinks(engine, secret=settings.signing_secret)
        store = cache_store(settings)
        app.state.field_cache = FieldCache(
            store,
            namespace=database_namespace(engine),
            schema_version=schema_version,
            enabled=settings.field_cache,
        )
        schema.persisted.namespace = database_namespace(engine)
        if settings.persisted_queries:
            schema.persisted.store = (
                RedisStore(settings.redis_url.get_secret_value())
                if settings.redis_url
                else MemoryStore()
            )
        app.state.rate_limiter = RateLimiter(
            settings.redis_url.get_secret_value() if settings.redis_url else None,
            namespace=database_namespace(engine),
            sync_seconds=settings.rate_limit_sync_ms / 1000,
        )
        try:
            # Background work stops first: its connections go back before the pool.
            async with (
                running_replicas(replicas),
                sampling(settings, app.state.metrics, app.state),
                running_events(app, settings, engine),
                running_retention(app, settings, engine),
                running_webhooks(app, settings, engine, renderer(app, schema)),
            ):
                # Single connection SSE: reservations end before the broker they use.
                app.state.sse_reservations = Reservations()
                _tune_gc()
                try:
                    yield
                finally:
                    await app.state.sse_reservations.close()
        finally:
            handoff.uninstall()
            if slow is not None:
                await slow.close()
            await app.state.readiness.close()
            await engine.dispose()
            await store.close()
            await app.state.rate_limiter.close()
            await schema.persisted.close()
            tracing.flush()

    tracing.start(settings)
    schema = build_schema(settings)
    # Cached values are keyed by the schema they were computed under.
    schema_version = hashlib.sha256(schema.as_str().encode()).hexdigest()[:12]
    graphql = GraphQLApp(
        schema,
        graphql_ide="graphiql" if settings.graphiql else None,
        keep_alive=True,
        keep_alive_interval=settings.ws_keepalive_seconds,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        # File uploads (importProducts, importUsers); GraphQLApp keeps them to admins,
        # behind a CSRF preflight header and MAX_IMPORT_BYTES.
        multipart_uploads_enabled=True,
        subscription_protocols=(
            GRAPHQL_TRANSPORT_WS_PROTOCOL,
            GRAPHQL_WS_PROTOCOL,
            # Apollo's multipart HTTP subscriptions: without it in this list strawberry
            # does not recognise the Accept header and the request falls through to
            # execute_single, which refuses a subscription.
            MULTIPART_SUBSCRIPTION_PROTOCOL,
        ),
    )
    middleware = tracing.middleware()
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "PUT", "DELETE"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    "x-request-id",
                    "x-graphql-event-stream-token",
                    LSN_HEADER,
                    *PREFLIGHT_HEADERS,
                ],
                expose_headers=["x-request-id", LSN_HEADER],
            )
        )
    app = Starlette(
        routes=[
            # PUT and DELETE: graphql-sse's single connection mode (reserve, stop).
            Route("/graphql", graphql, methods=["GET", "POST", "PUT", "DELETE"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            # METRICS_PORT: served by `ordergraph serve` on that port instead.
            *([Route("/metrics", metrics_route)] if settings.metrics_port is None else []),
            *export_routes(schema),
            *invoice_routes(),
            *privacy_routes(),
            *(console_routes() if settings.console else []),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.metrics = Metrics()
    return app


@asynccontextmanager
async def running_replicas(replicas: Replicas | None) -> AsyncIterator[None]:
    """Each replica's position and lag, checked every REPLICA_CHECK_SECONDS."""
    if replicas is None:
        yield
        return
    # The first requests already know which replicas are usable.
    with contextlib.suppress(ServiceUnavailable):
        await replicas.check()
    task = asyncio.create_task(replicas.run(), name="replicas")
    try:
        yield
    finally:
        replicas.stop()
        _, pending = await asyncio.wait([task], timeout=5)
        for left in pending:
            left.cancel()
        await replicas.dispose()


@asynccontextmanager
async def running_events(
    app: Starlette, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[None]:
    """The relay, the bus and this process's broker, for as long as the app runs."""
    bus: Bus = (
        RedisBus(settings.redis_url.get_secret_value(), channel=events_channel(engine))
        if settings.redis_url
        else LocalBus()
    )
    broker = Broker(app.state.reader, queue_limit=settings.subscriber_queue_size)
    await broker.start()
    relay = Relay(
        engine,
        bus,
        poll_interval=settings.events_poll_seconds,
        on_moved=lambda events: _moved(app, events),
        listen=not settings.db_pgbouncer,
    )
    app.state.broker = broker
    app.state.relay = relay
    tasks = [
        asyncio.create_task(relay.run(), name="relay"),
        asyncio.create_task(bus.listen(broker.on_event), name="bus"),
        asyncio.create_task(broker.poll(settings.events_poll_seconds), name="broker-poll"),
    ]
    try:
        yield
    finally:
        relay.stop()
        broker.stop()
        # The relay and the poll finish their step and return; the bus only waits, so it
        # is cancelled. Nothing here may hang a shutdown: what is left after a few seconds
        # is cancelled.
        tasks[1].cancel()
        _, pending = await asyncio.wait(tasks, timeout=5)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        await bus.close()


@asynccontextmanager
async def running_retention(
    app: Starlette, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[None]:
    """Retention's turn every RETENTION_EVERY_SECONDS (never when 0)."""
    schedule = RetentionSchedule(engine, settings)
    app.state.retention = schedule
    if not settings.retention_every_seconds:
        yield
        return
    task = asyncio.create_task(schedule.run(), name="retention")
    try:
        yield
    finally:
        # It stops between batches, never inside a transaction; a batch is short.
        schedule.stop()
        _, pending = await asyncio.wait([task], timeout=10)
        for left in pending:
            left.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)


async def _end_subscribers(app: Starlette) -> None:
    broker: Broker | None = getattr(app.state, "broker", None)
    if broker is not None:
        broker.end_subscribers()


async def _moved(app: Starlette, events: list[Event]) -> None:
    """New events in the log: cached values they change go, webhooks look at once."""
    await app.state.field_cache.invalidate_events(events)
    if events and hasattr(app.state, "webhooks"):
        app.state.webhooks.kick()


def cache_store(settings: Settings) -> Store:
    """Redis when there is one; this process's memory when it is the only worker."""
    if not settings.field_cache:
        return NullStore()
    if settings.redis_url:
        return RedisStore(settings.redis_url.get_secret_value())
    if settings.web_concurrency > 1:
        log.info("Field cache off: %d workers and no REDIS_URL", settings.web_concurrency)
        return NullStore()
    return MemoryStore()


def database_namespace(engine: AsyncEngine) -> str:
    """A Redis prefix per database: deployments (and test runs) sharing a Redis never see
    each other's events or cached values."""
    url = engine.url
    where = f"{url.host or url.query.get('host')}:{url.port}/{url.database}"
    return f"ordergraph:{hashlib.sha256(where.encode()).hexdigest()[:16]}"


def events_channel(engine: AsyncEngine) -> str:
    return f"{database_namespace(engine)}:events"


def _tune_gc() -> None:
    """Keep the collector off the hot path.

    A large response allocates tens of thousands of short-lived objects, and the
    default thresholds (700, 10, 10) run the cycle collector dozens of times per request
    over everything in flight, so start-up's objects are frozen and the thresholds
    raised. The young threshold is not too high: each finished operation leaves a small
    cycle (graphql-core's executor), and a much higher threshold frees hundreds of
    requests' worth at once, a pause that shows in tail latency. The middle generation is
    collected rarely (every 1,000 young collections): it holds the objects of requests in
    flight, and traversing them again and again under many concurrent large queries costs
    throughput. Full collections still run (every 10 middle ones), so cycles that outlive
    their request are reclaimed. (Figures: bench/results.)
    Reference counting still frees almost everything at once; only cycles wait longer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 1000, 10)
