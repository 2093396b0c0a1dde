"""Through a real PgBouncer in transaction pooling mode (DB_PGBOUNCER=true): queries,
mutations and many concurrent requests, with no prepared-statement surprises."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import seed
from tests.conftest import SMALL, running_app
from tests.graphql.mutations import UPDATE_PRODUCT
from tests.scale.pgbouncer import binary, pgbouncer

USERS = """{ users(first: 3) { edges { node { id email
  orders(first: 2) { edges { node { total items { quantity product { price } } } } } } } } }"""
PRODUCTS = "{ products(first: 5) { edges { node { id stock version price } } } }"
CONCURRENT = 60


@pytest.fixture
async def small_url(empty_url: str) -> str:
    engine = create_async_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
    finally:
        await engine.dispose()
    return empty_url


@pytest.fixture(scope="module")
def bouncer(server_url: str) -> Iterator[int]:
    if binary() is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer; make test does)")
    with pgbouncer(server_url) as port:
        yield port


def through(url: str, port: int) -> str:
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


async def test_queries_mutations_and_concurrent_requests_through_pgbouncer(
    small_url: str, bouncer: int
) -> None:
    async with running_app(through(small_url, bouncer), db_pgbouncer=True) as api:
        body = await api.query(PRODUCTS)
        assert "errors" not in body, body
        products = [edge["node"] for edge in body["data"]["products"]["edges"]]
        assert len(products) == 5

        async def update(product: dict[str, object], stock: int) -> dict[str, object]:
            answer = await api.query(
                UPDATE_PRODUCT,
                {
                    "input": {
                        "id": product["id"],
                        "expectedVersion": product["version"],
                        "stock": stock,
                    }
                },
            )
            assert "errors" not in answer, answer
            result: dict[str, object] = answer["data"]["updateProduct"]
            return result

        # Many at once, more than PgBouncer's server connections: reads of every shape
        # and one write per product, interleaved.
        reads = [api.query(USERS if i % 2 else PRODUCTS) for i in range(CONCURRENT)]
        writes = [update(product, 500 + i) for i, product in enumerate(products)]
        results = await asyncio.gather(*reads, *writes)
        for result in results[:CONCURRENT]:
            assert "errors" not in result, result
        for result in results[CONCURRENT:]:
            assert result["errors"] == []

        after = await api.query(PRODUCTS)
        stocks = {
            edge["node"]["id"]: edge["node"]["stock"] for edge in after["data"]["products"]["edges"]
        }
        assert stocks == {product["id"]: 500 + i for i, product in enumerate(products)}
