"""Gauges read when /metrics is scraped, from PostgreSQL: registered by any package."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import connect

log = logging.getLogger(__name__)

COLLECT_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Reading:
    """One gauge value of one scrape."""

    name: str
    documentation: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


ScrapeCollector = Callable[[AsyncEngine], Awaitable[Iterable[Reading]]]
_COLLECTORS: list[ScrapeCollector] = []


def register_collector(collect: ScrapeCollector) -> None:
    """Run `collect(engine)` at every scrape and add its readings (see app.metrics)."""
    if collect not in _COLLECTORS:
        _COLLECTORS.append(collect)


async def read_all(engine: AsyncEngine) -> list[Reading]:
    """Every registered collector's readings; one that fails or is slow is left out."""

    async def one(collect: ScrapeCollector) -> list[Reading]:
        try:
            async with asyncio.timeout(COLLECT_TIMEOUT):
                return list(await collect(engine))
        except Exception:
            log.warning("metrics: collector %s failed", collect.__qualname__, exc_info=True)
            return []

    results = await asyncio.gather(*(one(c) for c in _COLLECTORS))
    return [reading for readings in results for reading in readings]


class Readings(Collector):
    """A scrape's readings as gauge families, for a registry made for that scrape."""

    def __init__(self, readings: list[Reading]) -> None:
        self.readings = readings

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for reading in self.readings:
            family = families.get(reading.name)
            if family is None:
                family = families[reading.name] = GaugeMetricFamily(
                    reading.name, reading.documentation, labels=sorted(reading.labels)
                )
            family.add_metric([reading.labels[k] for k in sorted(reading.labels)], reading.value)
        yield from families.values()


# The outbox is drained within a poll interval, so it is short and its oldest row is the
# head of its primary key; the log's last position is the head of its own. Two index probes.
_EVENTS = text(
    """
    SELECT
      (SELECT EXTRACT(EPOCH FROM clock_timestamp() - occurred_at)
         FROM outbox ORDER BY id LIMIT 1) AS lag,
      (SELECT max(position) FROM events) AS position
    """
)


async def event_gauges(engine: AsyncEngine) -> list[Reading]:
    async with connect(engine) as conn:
        row = (await conn.execute(_EVENTS)).one()
    return [
        Reading(
            "ordergraph_outbox_lag_seconds",
            "Age of the oldest outbox row not yet relayed into the event log (0: none).",
            max(float(row.lag or 0), 0.0),
        ),
        Reading(
            "ordergraph_event_log_position",
            "The last position of the event log.",
            float(row.position or 0),
        ),
    ]


register_collector(event_gauges)
