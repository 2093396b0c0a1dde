"""GET /metrics: the text format, for this process or (multiprocess mode) every worker.

With METRICS_TOKEN set a scrape must send `Authorization: Bearer <token>`; with
METRICS_PORT set the API's port has no /metrics at all, and `ordergraph serve` answers
it on that port instead (app.metrics.multiprocess).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from app.metrics.collectors import Readings, read_all
from app.metrics.families import Metrics
from app.settings import Settings
from app.web.errors import error_response


class _Own(Collector):
    """This process's families (no multiprocess directory: one process, in memory)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


async def render(settings: Settings, metrics: Metrics | None, engine: AsyncEngine) -> bytes:
    """The text format of one scrape: the workers' families and the scrape-time gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if settings.prometheus_multiproc_dir is not None:
        MultiProcessCollector(registry, path=str(settings.prometheus_multiproc_dir))  # type: ignore[no-untyped-call]
    elif metrics is not None:
        registry.register(_Own(metrics.registry))
        # Module-level families of other packages (app.webhooks.metrics) live in
        # prometheus_client's default registry; in multiprocess mode their files are read.
        registry.register(_Own(REGISTRY))
    registry.register(Readings(await read_all(engine)))
    return generate_latest(registry)


def authorized(settings: Settings, authorization: str | None) -> bool:
    if settings.metrics_token is None:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    expected = settings.metrics_token.get_secret_value()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), expected)


async def metrics_route(request: Request) -> Response:
    state = request.app.state
    settings: Settings = state.settings
    if not authorized(settings, request.headers.get("authorization")):
        response = error_response(
            "UNAUTHENTICATED",
            "/metrics needs Authorization: Bearer <METRICS_TOKEN>.",
            401,
        )
        response.headers["www-authenticate"] = 'Bearer realm="metrics"'
        return response
    metrics: Metrics = state.metrics
    metrics.sample(state)
    body = await render(settings, metrics, state.reader)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
