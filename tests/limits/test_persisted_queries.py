"""Automatic persisted queries, end to end with Apollo Client's persisted-queries link
(useGETForHashedQueries) against real server processes sharing a Redis of the test's
own: miss, register, hit, over GET; a second instance finds what the first registered."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import running_app
from tests.events.conftest import Cluster, _cluster
from tests.events.node import NODE_DIR, node_or_skip
from tests.redis_server import PrivateRedis, private_redis

SCRIPT = NODE_DIR / "apollo_persisted.mjs"
PRODUCTS = "query Catalog($n: Int) { products(first: $n) { edges { node { id sku } } } }"


@pytest.fixture(scope="module")
def apq_redis() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture(scope="module")
async def servers(
    server_url: str,
    template_db: str,
    apq_redis: PrivateRedis,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Cluster]:
    async for cluster in _cluster(
        server_url, template_db, apq_redis.url, tmp_path_factory.mktemp("apq")
    ):
        yield cluster


async def apollo(url: str, token: str, query: str, times: int) -> list[dict[str, Any]]:
    node = node_or_skip()
    options = {"url": url, "token": token, "query": query, "variables": {"n": 3}, "times": times}
    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        orjson.dumps(options).decode(),
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, (out, err)
    return [orjson.loads(line) for line in out.splitlines()]


async def test_apollo_misses_registers_then_hits_over_get(servers: Cluster) -> None:
    lines = await apollo(servers.a.http, servers.admin, PRODUCTS, times=2)
    exchanges = [line for line in lines if line["kind"] == "http"]
    # Apollo hashes the document as it prints it (with __typename added), and the
    # server checked that hash against the text on registration.
    digest = exchanges[0]["hash"]
    assert isinstance(digest, str)
    assert len(digest) == 64
    assert exchanges == [
        # The hash alone, over GET: not known yet.
        {
            "kind": "http",
            "method": "GET",
            "sentQuery": False,
            "hash": digest,
            "status": 200,
            "codes": ["PERSISTED_QUERY_NOT_FOUND"],
        },
        # The link sends the query with its hash: registered, and run.
        {
            "kind": "http",
            "method": "POST",
            "sentQuery": True,
            "hash": digest,
            "status": 200,
            "codes": [],
        },
        # From then on the hash alone, over GET, is enough.
        {
            "kind": "http",
            "method": "GET",
            "sentQuery": False,
            "hash": digest,
            "status": 200,
            "codes": [],
        },
    ]
    results = [line for line in lines if line["kind"] == "result"]
    assert len(results) == 2
    assert results[0] == results[1]
    assert len(results[0]["data"]["products"]["edges"]) == 3


async def test_another_instance_finds_the_registered_query_in_redis(servers: Cluster) -> None:
    query = PRODUCTS.replace("id sku", "id name")
    await apollo(servers.a.http, servers.admin, query, times=1)
    lines = await apollo(servers.b.http, servers.admin, query, times=1)
    [exchange] = [line for line in lines if line["kind"] == "http"]
    assert exchange["method"] == "GET"
    assert not exchange["sentQuery"]
    assert exchange["codes"] == []


def test_a_query_whose_hash_does_not_match_is_refused(servers: Cluster) -> None:
    response = httpx.post(
        servers.a.http,
        json={
            "query": "{ __typename }",
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}},
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    # Nothing was registered under the wrong hash.
    miss = httpx.get(
        servers.a.http,
        params={
            "extensions": '{"persistedQuery": {"version": 1, "sha256Hash": "' + "0" * 64 + '"}}'
        },
    )
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_a_persisted_mutation_never_runs_over_get(servers: Cluster) -> None:
    mutation = 'mutation { deleteProduct(id: "UHJvZHVjdDox") { errors { message } } }'
    digest = hashlib.sha256(mutation.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    headers = {"authorization": f"Bearer {servers.admin}"}
    # Registered with a POST that runs it (a product that does not exist: nothing deleted).
    registered = httpx.post(
        servers.a.http,
        json={"query": mutation, "extensions": extensions},
        headers=headers,
    )
    assert registered.status_code == 200, registered.text
    response = httpx.get(
        servers.a.http, params={"extensions": orjson.dumps(extensions).decode()}, headers=headers
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def _hash(query: str) -> dict[str, Any]:
    return {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}
    }


def _get(url: str, query: str, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    params = {"extensions": orjson.dumps(_hash(query)).decode()}
    return httpx.get(url, params=params, headers=headers)


def test_get_answers_say_how_caches_may_keep_them(servers: Cluster) -> None:
    url = servers.a.http
    query = "{ products(first: 2) { edges { node { sku } } } }"
    miss = _get(url, query)
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert miss.headers["cache-control"] == "no-store"  # or a CDN would keep the miss
    registered = httpx.post(url, json={"query": query, "extensions": _hash(query)})
    assert registered.status_code == 200
    assert "cache-control" not in registered.headers  # POST answers are not for caches
    anonymous = _get(url, query)
    assert "errors" not in anonymous.json()
    assert anonymous.headers["cache-control"] == "public, no-cache"  # max-age 0: revalidate
    assert "Authorization" in anonymous.headers["vary"]
    with_token = _get(url, query, servers.admin)
    assert with_token.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in with_token.headers["vary"]

    failing = '{ product(id: "not-an-id") { sku } }'
    httpx.post(url, json={"query": failing, "extensions": _hash(failing)})
    answer = _get(url, failing)
    assert answer.json()["errors"]
    assert answer.headers["cache-control"] == "no-store"


async def test_a_max_age_lets_caches_keep_answers_without_errors(seeded_url: str) -> None:
    query = "{ products(first: 2) { edges { node { sku } } } }"
    async with running_app(seeded_url, get_cache_max_age_seconds=60) as api:
        anonymous = await api.client.get("/graphql", params={"query": query})
        assert "errors" not in anonymous.json()
        assert anonymous.headers["cache-control"] == "public, max-age=60"
        with_token = await api.client.get("/graphql", params={"query": query}, headers=api.headers)
        assert with_token.headers["cache-control"] == "private, max-age=60"
        assert with_token.headers["vary"] == "Authorization, Accept, X-Ordergraph-LSN"
