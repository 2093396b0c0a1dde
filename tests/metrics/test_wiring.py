"""What other packages add to /metrics through the one registration call and the
samples: the webhook queue and counters (app.webhooks.metrics), and operations the read
plan answers, which skip the view's extensions but are measured all the same."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Api, running_app

PLANNED = "query Planned { products(first: 3) { edges { node { id sku } } } }"


async def scrape(api: Api) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = await api.client.get("/metrics")
    assert response.status_code == 200, response.text
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_planned_queries_are_counted_like_executed_ones(seeded_url: str) -> None:
    async with running_app(seeded_url) as api:
        paths = []
        for _ in range(3):
            response = await api.client.post(
                "/graphql", json={"query": PLANNED}, headers=api.headers
            )
            assert "errors" not in response.json()
            paths.append(response.headers["x-read-path"])
        assert paths == ["executor", "plan", "plan"]
        counts = (await scrape(api))["ordergraph_graphql_operation_seconds_count"]
        assert counts[(("operation", "Planned"), ("type", "query"))] == 3


async def test_the_webhook_queue_and_counters_are_scraped(empty_url: str) -> None:
    # A database of its own: no other test's deliveries wait in it.
    async with running_app(empty_url, as_admin=False) as api:
        found = await scrape(api)
        assert found["ordergraph_webhook_queue_depth"][()] == 0
        assert found["ordergraph_webhook_oldest_pending_seconds"][()] == 0
        assert "ordergraph_webhooks_disabled_total" in found
