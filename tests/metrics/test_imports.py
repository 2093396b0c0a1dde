"""Imports counted in /metrics: runs by result, rows by outcome."""

from __future__ import annotations

from tests.conftest import Api
from tests.imports.uploads import upload
from tests.metrics.scrape import parse, value

CSV = b"sku,name,price\nMET-1,Metric one,1.00\nMET-2,Metric two,2.00\n"
BAD = b"sku,name,price\nMET-3,Metric three,not-money\n"


async def test_imports_are_counted_by_result_and_rows_by_outcome(wapi: Api) -> None:
    await upload(wapi, CSV, dryRun=True)
    await upload(wapi, CSV)
    await upload(wapi, CSV, mode="UPSERT")
    rejected = await upload(wapi, BAD)
    assert rejected["written"] is False
    samples = parse((await wapi.client.get("/metrics")).text)

    def runs(result: str) -> float:
        return value(samples, "ordergraph_imports_total", {"entity": "products", "result": result})

    def rows(outcome: str) -> float:
        labels = {"entity": "products", "outcome": outcome}
        return value(samples, "ordergraph_import_rows_total", labels)

    assert (runs("dry_run"), runs("written"), runs("rejected")) == (1, 2, 1)
    # The dry run's 2 rows are counted as the ones it would have created.
    assert (rows("created"), rows("unchanged"), rows("failed")) == (4, 2, 1)
