"""Reading /metrics as Prometheus does: with prometheus_client's text-format parser."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by (sample name, its labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, labels: Mapping[str, str] | None = None) -> float:
    """A sample's value; 0 for one not (yet) in the scrape."""
    return samples.get((name, frozenset((labels or {}).items())), 0.0)


async def scrape(base: str, token: str | None) -> Samples:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{base}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return parse(response.text)
