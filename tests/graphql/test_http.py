"""GraphQL over HTTP: methods, media types, status codes, and a database outage."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.conftest import Api, running_app
from tests.proxy import Proxy

QUERY = "{ products(first: 2) { edges { node { sku } } } }"
# The products connection is cached: an outage test must ask PostgreSQL for something.
UNCACHED = "{ users(first: 2) { edges { node { email } } } }"
PARTLY_BAD = "{ a: products(first: 1) { totalCount } b: users(first: 500) { totalCount } }"


async def test_get_serves_queries(api: Api) -> None:
    response = await api.client.get("/graphql", params={"query": QUERY})
    assert response.status_code == 200
    assert len(response.json()["data"]["products"]["edges"]) == 2


async def test_post_with_graphql_response_json_is_answered_in_kind(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": QUERY},
        headers={"accept": "application/graphql-response+json, application/json;q=0.9"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")


async def test_plain_json_clients_get_application_json(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": QUERY}, headers={"accept": "*/*"})
    assert response.headers["content-type"].startswith("application/json")


async def test_request_error_is_400_for_graphql_response_json(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "{ nope }"},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_request_error_is_200_for_application_json(api: Api) -> None:
    response = await api.client.post(
        "/graphql", json={"query": "{ nope }"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_field_error_is_an_execution_result_with_200(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": PARTLY_BAD},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 200
    body = response.json()
    # users is non-null, so its error nulls the whole of data; data is still present.
    assert "data" in body
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["b"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_malformed_json_body_is_a_400_with_a_json_error(api: Api) -> None:
    response = await api.client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_missing_query_is_a_400(api: Api) -> None:
    response = await api.client.post("/graphql", json={"variables": {}})
    assert response.status_code == 400
    assert "query" in response.json()["errors"][0]["message"].lower()


async def test_other_methods_are_405(api: Api) -> None:
    # PUT and DELETE belong to graphql-sse's single connection mode (tests/events).
    response = await api.client.patch("/graphql", json={"query": QUERY})
    assert response.status_code == 405


async def test_graphiql_is_served_to_browsers(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_every_response_carries_a_request_id(api: Api) -> None:
    response = await api.client.post(
        "/graphql", json={"query": QUERY}, headers={"x-request-id": "abc123"}
    )
    assert response.headers["x-request-id"] == "abc123"


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).json()["status"] == "ok"


async def test_database_outage_is_a_clear_error_and_the_server_recovers(seeded_url: str) -> None:
    proxy = Proxy(seeded_url)
    await proxy.start()
    try:
        async with running_app(proxy.url_for(seeded_url)) as api:
            assert (await api.query(UNCACHED))["data"]["users"]["edges"]

            await proxy.stop()
            body = await api.query(UNCACHED)
            [error] = body["errors"]
            assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert "database is unavailable" in error["message"]
            assert "Traceback" not in json.dumps(body)
            assert (await api.client.get("/readyz")).status_code == 503

            await proxy.start()
            body = await api.query(UNCACHED)
            assert "errors" not in body
            assert len(body["data"]["users"]["edges"]) == 2
    finally:
        await proxy.stop()


async def test_a_restart_between_requests_costs_no_request(seeded_url: str) -> None:
    """Connections the server closed while they sat in the pool are replaced at checkout:
    the first request after the restart succeeds, with no ping round trip per request."""
    proxy = Proxy(seeded_url)
    await proxy.start()
    try:
        async with running_app(proxy.url_for(seeded_url)) as api:
            assert (await api.query(UNCACHED))["data"]["users"]["edges"]
            await proxy.stop()  # closes every pooled connection, with no request running
            await proxy.start()
            await asyncio.sleep(0.05)  # the pooled connections see their sockets close
            body = await api.query(UNCACHED)
            assert "errors" not in body, body
    finally:
        await proxy.stop()


@pytest.mark.parametrize(
    "body",
    [b'"hello"', b'{"query": "{ __typename }", "x": "\xff"}', b"[" * 100_000 + b"]" * 100_000],
)
async def test_malformed_bodies_are_400_not_500(api: Api, body: bytes) -> None:
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_lone_surrogate_in_json_is_400(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        content=b'{"query": "{ users { totalCount } }", "variables": {"e": "\\ud800"}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400


async def test_oversized_body_is_413(api: Api) -> None:
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * 1_100_000 + b'"}'
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_oversized_chunked_body_is_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }", "pad": "'
        for _ in range(20):
            yield b"x" * 65_536
        yield b'"}'

    # A generator has no length: httpx sends it without Content-Length, in chunks.
    response = await api.client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_chunked_body_within_the_limit_is_answered(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }",'
        yield b' "variables": {}}'

    response = await api.client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_mutation_over_get_is_405_allow_post(api: Api) -> None:
    response = await api.client.get("/graphql", params={"query": "mutation { __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "mutations are not allowed" in response.json()["errors"][0]["message"]


async def test_non_numeric_content_length_is_400(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": "application/json", "content-length": "lots"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
