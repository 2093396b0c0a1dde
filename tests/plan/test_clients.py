"""The planned read path through the client users run: Python gql over httpx, against
a real server process. The second request of a document is served by its plan, and
answers as the first (served by the executor) did."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport

from tests.events.conftest import Cluster, _cluster

HEAVY = """query Heavy($first: Int!, $orders: Int!) {
  users(first: $first) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id email name
      orders(first: $orders) { edges { node { id status total createdAt
        items { quantity unitPrice product { id sku name price } } } } } } } } }"""


@pytest.fixture(scope="module")
async def cluster(
    server_url: str, template_db: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    tmp: Path = tmp_path_factory.mktemp("plan")
    async for value in _cluster(server_url, template_db, redis_url, tmp, READ_PATH="auto"):
        yield value


async def test_gql_gets_the_same_answer_from_the_plan_as_from_the_executor(
    cluster: Cluster,
) -> None:
    transport = HTTPXAsyncTransport(
        url=cluster.a.http, headers={"authorization": f"Bearer {cluster.admin}"}, timeout=30
    )
    request = GraphQLRequest(HEAVY, variable_values={"first": 3, "orders": 2})
    paths, answers = [], []
    async with Client(transport=transport) as session:
        for _ in range(3):
            answers.append(await session.execute(request))
            assert transport.response_headers is not None
            paths.append(transport.response_headers.get("x-read-path"))
    assert paths == ["executor", "plan", "plan"]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["users"]["edges"][0]["node"]["orders"]["edges"][0]["node"]["items"]
