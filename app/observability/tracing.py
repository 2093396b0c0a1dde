"""OpenTelemetry traces, when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Spans come from the maintained instrumentations: ASGI (each HTTP request and WebSocket),
SQLAlchemy (each statement) and Redis (each command), plus two of ours: one per GraphQL
operation (`graphql.operation`) and one per loader batch (`dataloader.batch`), never one
per field. Without the setting nothing is installed and `tracer()` is None, so the hot
path pays one None check.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware

from app.settings import Settings

log = logging.getLogger(__name__)

_TRACER: Any = None
_PROVIDER: Any = None


def tracer() -> Any:
    """The tracer of ordergraph's own spans, or None when tracing is off."""
    return _TRACER


def start(settings: Settings) -> bool:
    """Install the exporter and the Redis instrumentation (once per process)."""
    global _TRACER, _PROVIDER
    if not settings.otel_exporter_otlp_endpoint:
        return False
    if _PROVIDER is not None:
        return True
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/")
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    _PROVIDER = provider
    _TRACER = provider.get_tracer("ordergraph")
    log.info("Tracing to %s", endpoint)
    return True


def start_span(name: str) -> tuple[Any, object | None]:
    """(span, token) of a span made current in this context, or (None, None) when off."""
    if _TRACER is None:
        return None, None
    from opentelemetry import context, trace

    span = _TRACER.start_span(name)
    return span, context.attach(trace.set_span_in_context(span))


def end_span(span: Any, token: object | None) -> None:
    """End `span`; make its parent current again if `token` (same context) is given."""
    span.end()
    if token is not None:
        from opentelemetry import context

        context.detach(token)  # type: ignore[arg-type]


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per SQL statement on this engine (when tracing is on)."""
    if _PROVIDER is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return  # one app, one engine per process
    # The instrumentation pins sqlalchemy < 2.1 (its releases trail SQLAlchemy's); the
    # event API it listens on is the same in 2.1, which tests/observability checks.
    instrumentor.instrument(
        engine=engine.sync_engine, tracer_provider=_PROVIDER, skip_dep_check=True
    )


def middleware() -> list[Middleware]:
    """The ASGI instrumentation as the app's outermost middleware, when tracing is on."""
    if _PROVIDER is None:
        return []
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return [Middleware(OpenTelemetryMiddleware, tracer_provider=_PROVIDER)]


def flush() -> None:
    """Send what is buffered (a worker about to exit)."""
    if _PROVIDER is not None:
        _PROVIDER.force_flush(timeout_millis=5000)
