"""Static query cost (IBM cost directives): the figures for known documents, refusal over
MAX_QUERY_COST with both figures, and extensions.cost when asked for."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from app.graphql import documents
from app.graphql.cost import estimate
from app.graphql.schema import build_schema
from app.settings import Settings
from tests.conftest import running_app

USER = 'query { user(id: "VXNlcjox") { id name email } }'
PRODUCTS = "query { products(first: 50) { edges { node { id sku name price } } } }"
NESTED = """query Nested($n: Int) { users(first: $n) { totalCount edges { node {
  orders(first: 10) { edges { node { items { product { name } } } } } } } } }"""
NODE_FRAGMENTS = """query { node(id: "x") {
  ... on User { orders(first: 5) { edges { node { id } } } }
  ... on Product { name } } }"""
DEFAULT_PAGE = "query { products { edges { node { id } } } }"
MUTATION = 'mutation { deleteProduct(id: "x") { errors { message } } }'


def cost(document: str, **variables: Any) -> int | None:
    schema = build_schema(Settings())
    assert schema.documents.cost_model is not None
    found = estimate(
        schema.documents.cost_model, parse(document), operation_name=None, variables=variables
    )
    return None if found is None else found.cost


def test_a_lookup_costs_its_object() -> None:
    assert cost(USER) == 1


def test_a_connection_costs_its_edges_times_first() -> None:
    # ProductConnection 1 + 50 edges x (edge 1 + node 1)
    assert cost(PRODUCTS) == 101


def test_a_connection_without_first_costs_its_assumed_size() -> None:
    assert cost(DEFAULT_PAGE) == 1 + 20 * 2


def test_nested_lists_multiply_and_slicing_variables_count() -> None:
    # 1 + totalCount 5 + 50 x (edge 1 + user 1 + orders(1 + 10 x (1 + 1 + 10 items x 2)))
    assert cost(NESTED, n=50) == 11156
    assert cost(NESTED, n=5) == 6 + 5 * 223


def test_fragments_on_other_types_count_the_dearest() -> None:
    # node 1 + max(User: orders 1 + 5 x 2, Product: 0)
    assert cost(NODE_FRAGMENTS) == 12


def test_a_mutation_field_weighs_ten() -> None:
    # 10 + payload 1 + errors 10 x 1
    assert cost(MUTATION) == 21


def test_the_schema_shows_the_directives() -> None:
    printed = build_schema(Settings()).as_str()
    assert "directive @cost(weight: String!)" in printed
    assert "directive @listSize(" in printed
    assert "products(" in printed
    assert 'sizedFields: ["edges"]' in printed


@pytest.mark.parametrize("variables", [{"n": 50}, {"n": 5}])
async def test_over_the_limit_is_refused_with_both_figures(
    seeded_url: str, variables: dict[str, int]
) -> None:
    async with running_app(seeded_url, max_query_cost=2000) as api:
        body = await api.query(NESTED, variables)
        if variables["n"] == 5:
            assert "errors" not in body, body
            return
        [error] = body["errors"]
        assert error["extensions"] == {"code": "COST_LIMIT_EXCEEDED", "cost": 11156, "limit": 2000}
        assert "11156" in error["message"]
        assert "2000" in error["message"]
        assert "data" not in body


async def test_the_cost_is_computed_once_per_document_and_slicing_values(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["variables"])
        return estimate(*args, **kwargs)

    monkeypatch.setattr(documents, "estimate", counted)
    async with running_app(seeded_url) as api:
        schema = graphql_schema(api)
        for _ in range(3):
            await api.data(NESTED, {"n": 3})
        await api.data(NESTED, {"n": 4})
        # A variable no slicing argument takes does not make a new figure.
        await api.data(NESTED, {"n": 4})
        assert calls == [{"n": 3}, {"n": 4}]
        entries = [
            entry
            for entry in schema.documents.validated.values()
            if "Nested" in entry.document.loc.source.body
        ]
        [entry] = entries
        assert entry.costs.variables == {"Nested": ("n",)}
        assert set(entry.costs.figures) == {("Nested", 3), ("Nested", 4)}


def graphql_schema(api: Any) -> Any:
    """The schema the app serves /graphql with (TaggedRequests wraps the app)."""
    app = api.client._transport.app.app
    [route] = [
        r for r in app.routes if getattr(r, "path", "") == "/graphql" and hasattr(r, "methods")
    ]
    return route.endpoint.schema


async def test_extensions_cost_when_asked(seeded_url: str) -> None:
    async with running_app(seeded_url) as api:
        response = await api.client.post(
            "/graphql",
            json={"query": PRODUCTS, "extensions": {"cost": True}},
            headers=api.headers,
        )
        body = response.json()
        edges = body["data"]["products"]["edges"]
        assert 0 < len(edges) < 50
        # The actual cost counts the edges returned, the requested one the 50 asked for.
        assert body["extensions"]["cost"] == {
            "requested": 101,
            "actual": 1 + 2 * len(edges),
            "limit": 50_000,
        }
        plain = await api.query(PRODUCTS)
        assert "cost" not in plain.get("extensions", {})


def test_fragments_that_double_are_costed_once_each() -> None:
    """2^30 paths, 31 fragments: each fragment's cost is computed once, so the figure
    comes at once, and is refused."""
    parts = [
        f"fragment E{i} on Order {{ items {{ quantity }} ...E{i + 1} ...E{i + 1} }}"
        for i in range(30)
    ]
    document = "{ orders(first: 2) { edges { node { ...E0 } } } } " + " ".join(
        [*parts, "fragment E30 on Order { id }"]
    )
    figure = cost(document)
    assert figure is not None
    assert figure > 2**30


async def test_a_planned_document_is_costed_for_each_request_s_variables(
    seeded_url: str,
) -> None:
    """Once a document runs as a read plan (app.graphql.plan), a larger slicing variable
    must still meet the cost limit: the plan takes no request the view would refuse."""
    async with running_app(seeded_url, max_query_cost=2000) as api:
        paths = []
        for _ in range(2):
            response = await api.client.post(
                "/graphql", json={"query": NESTED, "variables": {"n": 1}}, headers=api.headers
            )
            assert "errors" not in response.json(), response.json()
            paths.append(response.headers["x-read-path"])
        assert paths == ["executor", "plan"]
        body = await api.query(NESTED, {"n": 50})
        [error] = body["errors"]
        assert error["extensions"] == {"code": "COST_LIMIT_EXCEEDED", "cost": 11156, "limit": 2000}
