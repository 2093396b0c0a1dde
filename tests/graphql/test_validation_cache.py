"""Each distinct document is validated once, and a refused document stays refused."""

from __future__ import annotations

from typing import Any

import pytest

from app.graphql.limits import check_limits
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
