"""Each distinct document is validated once, and a refused document stays refused."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import pytest

from app.graphql.limits import check_limits
from app.graphql.schema import Schema, build_schema
from app.settings import Settings
from tests.conftest import Api


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The documents validation was run on, in order (the limits are its first step)."""
    seen: list[object] = []

    def counting(document: Any, limits: Any) -> Any:
        seen.append(document)
        return check_limits(document, limits)

    monkeypatch.setattr("app.graphql.documents.check_limits", counting)
    return seen


async def test_a_repeated_document_is_validated_once(api: Api, validations: list[object]) -> None:
    document = "{ products(first: 2) { edges { node { sku } } } } # validated once"
    first = await api.data(document)
    second = await api.data(document)
    assert first == second
    assert len(validations) == 1


async def test_a_different_document_is_validated_anew(api: Api, validations: list[object]) -> None:
    await api.data("{ products(first: 1) { totalCount } } # one")
    await api.data("{ products(first: 1) { totalCount } } # two")
    assert len(validations) == 2


async def test_a_refused_document_is_refused_every_time(
    api: Api, validations: list[object]
) -> None:
    level = "orders { edges { node { user { %s } } } }"
    deep = "{ " + (level % (level % (level % (level % "id")))) + " } # cached refusal"
    for _ in range(2):
        error = await api.error(deep)
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "depth" in error["message"]
    assert len(validations) == 1


async def _ask_distinct(schema: Schema, count: int, padding: int) -> None:
    for i in range(count):
        # A long comment passes the token limit: one token, however long.
        result = await schema.execute(f"{{ __typename }} # {i} " + "x" * padding)
        assert result.data == {"__typename": "Query"}


async def test_the_caches_hold_no_more_bytes_than_their_budget() -> None:
    budget = 2**20
    schema = build_schema(Settings(document_cache_bytes=budget))
    await _ask_distinct(schema, 300, 5_000)
    caches = schema.documents
    for cache in (caches.parsed, caches.validated):
        assert cache.currsize <= budget
        assert 0 < len(cache) < 300  # some kept, the oldest let go


async def test_memory_kept_by_many_distinct_large_documents_is_bounded() -> None:
    """200 distinct 10 kB documents: bounded by entry count they all stayed, 4.6 MB."""
    budget = 2 * 2**20
    schema = build_schema(Settings(document_cache_bytes=budget))
    await _ask_distinct(schema, 1, 10)  # imports and first-use memos out of the way
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await _ask_distinct(schema, 200, 10_000)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 1.5 * budget, f"{kept / 2**20:.1f} MiB kept"
    assert len(schema.documents.parsed) > 0  # they are cached, within the budget


async def test_a_document_too_large_for_a_fair_share_is_not_kept() -> None:
    schema = build_schema(Settings(document_cache_bytes=2**20))
    await _ask_distinct(schema, 1, 1_000_000)
    assert len(schema.documents.parsed) == 0
    assert len(schema.documents.validated) == 0
