"""graphql-sse's single connection mode, request by request with httpx against two real
server processes: reservations, their owners, operation ids, limits, expiry and the
status codes of the reference handler. (The graphql-sse client itself runs in this mode
in test_sse.py.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.events.conftest import Cluster, Server, _cluster
from tests.events.feeds import PRODUCT_EVENTS, a_product, set_stock
from tests.events.test_sse import events, only, sse_gauges
from tests.events.test_subscriptions import settled_count, subscribers

TOKEN = "x-graphql-event-stream-token"
RESERVATION_SECONDS = 2
MAX_OPERATIONS = 2
MAX_STREAMS = 2


@pytest.fixture(scope="module")
async def cluster(
    server_url: str, template_db: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    async for value in _cluster(
        server_url,
        template_db,
        redis_url,
        tmp_path_factory.mktemp("sse-single"),
        SSE_KEEPALIVE_SECONDS="0.5",
        SSE_MAX_STREAMS=str(MAX_STREAMS),
        SSE_MAX_OPERATIONS=str(MAX_OPERATIONS),
        SSE_RESERVATION_SECONDS=str(RESERVATION_SECONDS),
    ):
        yield value


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def auth(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


async def reserve(client: httpx.AsyncClient, server: Server, token: str | None) -> str:
    answer = await client.put(server.http, headers=auth(token))
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


async def post(
    client: httpx.AsyncClient,
    server: Server,
    token: str | None,
    stream: str,
    query: str,
    *,
    operation_id: str | None,
    **variables: object,
) -> httpx.Response:
    extensions = {"operationId": operation_id} if operation_id else {}
    return await client.post(
        server.http,
        json={"query": query, "variables": variables, "extensions": extensions},
        headers={**auth(token), TOKEN: stream},
    )


async def delete(
    client: httpx.AsyncClient, server: Server, token: str | None, stream: str, operation_id: str
) -> httpx.Response:
    return await client.delete(
        server.http, params={"operationId": operation_id}, headers={**auth(token), TOKEN: stream}
    )


@asynccontextmanager
async def opened(
    client: httpx.AsyncClient, server: Server, token: str | None, stream: str
) -> AsyncIterator[httpx.Response]:
    """The reservation's event stream (the token as the `token` parameter, the way an
    EventSource would send it)."""
    headers = {**auth(token), "accept": "text/event-stream"}
    async with client.stream(
        "GET", server.http, params={"token": stream}, headers=headers
    ) as response:
        yield response


class Messages:
    """A reserved stream's events, comments skipped."""

    def __init__(self, response: httpx.Response) -> None:
        self.events = events(response)

    async def next(self, wait: float = 15) -> tuple[str, Any]:
        async with asyncio.timeout(wait):
            while True:
                kind, data = await anext(self.events)
                if kind != ":":
                    return kind, data


def refused(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == code, error
    message: str = error["message"]
    return message


async def test_operations_share_one_stream_and_each_event_names_its_operation(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    first, second = await a_product(cluster, 0), await a_product(cluster, 1)
    stream = await reserve(client, cluster.b, cluster.admin)
    before = await subscribers(cluster.b)
    async with opened(client, cluster.b, cluster.admin, stream) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        messages = Messages(response)
        for operation_id, product_id in (("one", first), ("two", second)):
            answer = await post(
                client,
                cluster.b,
                cluster.admin,
                stream,
                PRODUCT_EVENTS,
                operation_id=operation_id,
                **only(product_id),
            )
            assert (answer.status_code, answer.content) == (202, b"")
        assert await settled_count(cluster.b, before + 2) == before + 2
        await set_stock(cluster, first, 61)
        await set_stock(cluster, second, 62)
        received = {}
        for _ in range(2):
            kind, data = await messages.next()
            assert kind == "next"
            received[data["id"]] = data["payload"]["data"]["productEvents"]["node"]["stock"]
        assert received == {"one": 61, "two": 62}

        # Stopping one completes it; the other goes on.
        assert (await delete(client, cluster.b, cluster.admin, stream, "one")).status_code == 200
        assert await messages.next() == ("complete", {"id": "one"})
        await set_stock(cluster, first, 63)
        await set_stock(cluster, second, 64)
        kind, data = await messages.next()
        assert (kind, data["id"]) == ("next", "two")
        assert data["payload"]["data"]["productEvents"]["node"]["stock"] == 64
    assert await settled_count(cluster.b, before) == before


async def test_a_reservation_is_no_one_elses_to_read_or_stop(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    owner = await cluster.token("user000001@example.com")
    other = await cluster.token("user000002@example.com")
    product_id = await a_product(cluster, 2)
    stream = await reserve(client, cluster.b, owner)
    async with opened(client, cluster.b, owner, stream) as response:
        messages = Messages(response)
        before = await subscribers(cluster.b)
        answer = await post(
            client,
            cluster.b,
            owner,
            stream,
            PRODUCT_EVENTS,
            operation_id="mine",
            **only(product_id),
        )
        assert answer.status_code == 202
        assert await settled_count(cluster.b, before + 1) == before + 1

        # Another user, and nobody at all: the token names nothing for them.
        for intruder in (other, None):
            async with opened(client, cluster.b, intruder, stream) as theirs:
                await theirs.aread()
            message = refused(theirs, 404, "NOT_FOUND")
            assert "Stream not found" in message
            answer = await post(
                client, cluster.b, intruder, stream, PRODUCT_EVENTS, operation_id="theirs"
            )
            refused(answer, 404, "NOT_FOUND")
            refused(await delete(client, cluster.b, intruder, stream, "mine"), 404, "NOT_FOUND")
        # Reserving with it as the token gets them a token of their own.
        answer = await client.put(cluster.b.http, headers={**auth(other), TOKEN: stream})
        assert answer.status_code == 201
        assert answer.text != stream

        # The owner's operation still runs and still streams to the owner.
        assert await subscribers(cluster.b) == before + 1
        await set_stock(cluster, product_id, 71)
        kind, data = await messages.next()
        assert (kind, data["id"]) == ("next", "mine")
        assert data["payload"]["data"]["productEvents"]["node"]["stock"] == 71


async def test_an_unknown_token_is_404_for_every_request(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    unknown = "never-reserved"
    async with opened(client, cluster.b, cluster.admin, unknown) as response:
        await response.aread()
    refused(response, 404, "NOT_FOUND")
    answer = await post(
        client, cluster.b, cluster.admin, unknown, "{ viewer { id } }", operation_id="q"
    )
    refused(answer, 404, "NOT_FOUND")
    refused(await delete(client, cluster.b, cluster.admin, unknown, "q"), 404, "NOT_FOUND")
    # A DELETE without any token has nothing to stop either.
    answer = await client.delete(cluster.b.http, params={"operationId": "q"})
    refused(answer, 404, "NOT_FOUND")


async def test_a_token_is_local_to_the_instance_that_reserved_it(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    stream = await reserve(client, cluster.a, cluster.admin)
    async with opened(client, cluster.b, cluster.admin, stream) as response:
        await response.aread()
    refused(response, 404, "NOT_FOUND")
    async with opened(client, cluster.a, cluster.admin, stream) as response:
        assert response.status_code == 200


async def test_a_reservation_has_one_stream_at_a_time(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    stream = await reserve(client, cluster.b, cluster.admin)
    async with opened(client, cluster.b, cluster.admin, stream) as first:
        assert first.status_code == 200
        async with opened(client, cluster.b, cluster.admin, stream) as second:
            await second.aread()
        assert "Stream already open" in refused(second, 409, "CONFLICT")
    # Reserving again with a token whose reservation lives is refused as well.
    held = await reserve(client, cluster.b, cluster.admin)
    answer = await client.put(cluster.b.http, headers={**auth(cluster.admin), TOKEN: held})
    assert "Stream already registered" in refused(answer, 409, "CONFLICT")


async def test_operation_ids_must_be_given_and_distinct(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    stream = await reserve(client, cluster.b, cluster.admin)
    async with opened(client, cluster.b, cluster.admin, stream):
        answer = await post(
            client, cluster.b, cluster.admin, stream, PRODUCT_EVENTS, operation_id=None
        )
        assert "Operation ID is missing" in refused(answer, 400, "BAD_REQUEST")
        answer = await post(
            client, cluster.b, cluster.admin, stream, PRODUCT_EVENTS, operation_id="x"
        )
        assert answer.status_code == 202
        again = await post(
            client, cluster.b, cluster.admin, stream, PRODUCT_EVENTS, operation_id="x"
        )
        assert "already exists" in refused(again, 409, "CONFLICT")
        answer = await client.delete(cluster.b.http, headers={**auth(cluster.admin), TOKEN: stream})
        assert "Operation ID is missing" in refused(answer, 400, "BAD_REQUEST")


async def test_an_operation_that_cannot_run_is_refused_instead_of_accepted(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    stream = await reserve(client, cluster.b, cluster.admin)
    async with opened(client, cluster.b, cluster.admin, stream) as response:
        answer = await post(
            client,
            cluster.b,
            cluster.admin,
            stream,
            "subscription { noSuchField }",
            operation_id="v",
        )
        assert answer.status_code == 400
        [error] = answer.json()["errors"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "noSuchField" in error["message"]
        # A mutation by GET, as over plain HTTP: 405 with Allow: POST.
        answer = await client.get(
            cluster.b.http,
            params={
                "query": 'mutation { revokeApiToken(input: {id: "x"}) { errors { code } } }',
                "extensions": '{"operationId": "m"}',
            },
            headers={**auth(cluster.admin), TOKEN: stream},
        )
        assert (answer.status_code, answer.headers["allow"]) == (405, "POST")
        # Refused ids were never taken: the same id now runs.
        answer = await post(
            client, cluster.b, cluster.admin, stream, "{ viewer { email } }", operation_id="v"
        )
        assert answer.status_code == 202
        messages = Messages(response)
        assert await messages.next() == (
            "next",
            {"id": "v", "payload": {"data": {"viewer": {"email": "admin@example.com"}}}},
        )
        assert await messages.next() == ("complete", {"id": "v"})


async def test_results_posted_before_the_stream_opens_wait_for_it(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    stream = await reserve(client, cluster.b, cluster.admin)
    answer = await post(
        client, cluster.b, cluster.admin, stream, "{ viewer { email } }", operation_id="early"
    )
    assert answer.status_code == 202
    async with opened(client, cluster.b, cluster.admin, stream) as response:
        messages = Messages(response)
        kind, data = await messages.next()
        assert (kind, data["id"]) == ("next", "early")
        assert data["payload"] == {"data": {"viewer": {"email": "admin@example.com"}}}
        assert await messages.next() == ("complete", {"id": "early"})


async def test_a_reserved_stream_gets_keepalive_comments(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    stream = await reserve(client, cluster.b, cluster.admin)
    async with opened(client, cluster.b, cluster.admin, stream) as response:
        received = []
        async with asyncio.timeout(10):
            async for event in events(response):
                received.append(event)
                if len(received) == 3:
                    break
    assert received == [(":", None)] * 3


async def test_operations_per_stream_and_reservations_per_caller_are_limited(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    token = await cluster.token("user000000@example.com")
    stream = await reserve(client, cluster.b, token)
    async with opened(client, cluster.b, token, stream):
        for n in range(MAX_OPERATIONS):
            answer = await post(
                client, cluster.b, token, stream, PRODUCT_EVENTS, operation_id=f"{n}"
            )
            assert answer.status_code == 202
        answer = await post(client, cluster.b, token, stream, PRODUCT_EVENTS, operation_id="more")
        assert "SSE_MAX_OPERATIONS" in refused(answer, 429, "TOO_MANY_SUBSCRIPTIONS")
        # A reservation holds one of the caller's SSE_MAX_STREAMS slots, open or not.
        await reserve(client, cluster.b, token)
        answer = await client.put(cluster.b.http, headers=auth(token))
        assert "SSE_MAX_STREAMS" in refused(answer, 429, "TOO_MANY_SUBSCRIPTIONS")


async def test_a_reservation_never_opened_expires_with_its_operations(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    token = await cluster.token("user000001@example.com")
    before = await subscribers(cluster.b)
    stream = await reserve(client, cluster.b, token)
    answer = await post(client, cluster.b, token, stream, PRODUCT_EVENTS, operation_id="lost")
    assert answer.status_code == 202
    assert await settled_count(cluster.b, before + 1) == before + 1
    # Past SSE_RESERVATION_SECONDS the operation has left the broker, and the token
    # names nothing.
    assert await settled_count(cluster.b, before) == before
    async with opened(client, cluster.b, token, stream) as response:
        await response.aread()
    refused(response, 404, "NOT_FOUND")
    assert await sse_gauges(cluster.b) == {"reservations": 0, "operations": 0}


async def test_a_stream_that_closes_ends_its_reservation_and_operations(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    token = await cluster.token("user000002@example.com")
    before = await subscribers(cluster.b)
    stream = await reserve(client, cluster.b, token)
    async with opened(client, cluster.b, token, stream):
        answer = await post(client, cluster.b, token, stream, PRODUCT_EVENTS, operation_id="s")
        assert answer.status_code == 202
        assert await settled_count(cluster.b, before + 1) == before + 1
    assert await settled_count(cluster.b, before) == before
    answer = await post(
        client, cluster.b, token, stream, PRODUCT_EVENTS, operation_id=uuid.uuid4().hex
    )
    refused(answer, 404, "NOT_FOUND")


async def test_a_reservation_answers_only_text_plain(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    answer = await client.put(
        cluster.b.http, headers={**auth(cluster.admin), "accept": "application/json"}
    )
    refused(answer, 406, "BAD_REQUEST")
