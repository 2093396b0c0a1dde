"""Several workers: one directory of metric files per run, and each worker's part in it.

`ordergraph serve` calls `prepare` before any worker starts: the directory named by
PROMETHEUS_MULTIPROC_DIR is emptied (values of an earlier run would otherwise be added
to this one's), or a fresh one is made and removed when serve exits. Workers inherit it
through the environment, which prometheus_client reads as it is imported. Each worker
samples its own counts every SAMPLE_SECONDS (`sampling`), and when it stops it writes
them a last time and marks itself dead, so its live gauges leave the sums while its
counters stay in them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server, values
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy.pool import NullPool

from app.metrics.collectors import Readings, read_all
from app.metrics.families import Metrics
from app.settings import Settings

SAMPLE_SECONDS = 1.0
ENVIRONMENT_NAME = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def prepared(settings: Settings) -> Iterator[Path]:
    """The run's metric directory, empty, exported to the workers' environment."""
    given = settings.prometheus_multiproc_dir
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        for stale in given.glob("*.db"):
            stale.unlink()
        directory, made = given, False
    else:
        directory, made = Path(tempfile.mkdtemp(prefix="ordergraph-metrics-")), True
    # Like DATABASE_URL for the embedded server: the workers read it afresh.
    os.environ[ENVIRONMENT_NAME] = str(directory)
    # prometheus_client chose where values live when it was imported (in this process,
    # before the line above); with one worker the app runs here and must write files too.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    try:
        yield directory
    finally:
        if made:
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.asynccontextmanager
async def sampling(settings: Settings, metrics: Metrics, state: Any) -> AsyncIterator[None]:
    """While the app runs: this worker's counts, sampled into its files every second."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            metrics.sample(state)

    task = asyncio.create_task(loop(), name="metrics-sampler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        metrics.sample(state)
        if settings.prometheus_multiproc_dir is not None:
            mark_process_dead(os.getpid(), str(settings.prometheus_multiproc_dir))  # type: ignore[no-untyped-call]


class _Database(Collector):
    """The scrape-time gauges, for the metrics port's threads (no event loop of theirs)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def collect(self) -> Iterable[Metric]:
        return Readings(asyncio.run(self._read())).collect()

    async def _read(self) -> list[Any]:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(self.url, poolclass=NullPool)
        try:
            return await read_all(engine.execution_options(isolation_level="AUTOCOMMIT"))
        finally:
            await engine.dispose()


def serve_port(settings: Settings, directory: Path, url: str) -> None:
    """METRICS_PORT: every worker's families, answered by serve's own process."""
    assert settings.metrics_port is not None
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    registry.register(_Database(url))
    start_http_server(settings.metrics_port, addr=settings.host, registry=registry)
