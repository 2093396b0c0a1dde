"""One subscription over each HTTP transport, read the same way: an async iterator of
its results that ends when the server completes it. For tests that hold every transport
to the same promise."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.events.conftest import Server
from tests.events.test_multipart import ACCEPT, Parts
from tests.events.test_sse import events

# graphql-sse's two modes, and Apollo's multipart subscriptions.
HTTP_TRANSPORTS = ["sse", "sse-single", "multipart"]
TOKEN = "x-graphql-event-stream-token"

Results = AsyncIterator[dict[str, Any]]


@asynccontextmanager
async def http_subscription(
    transport: str, server: Server, token: str, query: str, **variables: object
) -> AsyncIterator[Results]:
    headers = {"authorization": f"Bearer {token}"}
    body = {"query": query, "variables": variables}
    async with httpx.AsyncClient(timeout=30) as client:
        if transport == "multipart":
            async with client.stream(
                "POST", server.http, json=body, headers={**headers, "accept": ACCEPT}
            ) as response:
                assert response.status_code == 200
                yield _parts(Parts(response))
        elif transport == "sse":
            async with client.stream(
                "POST", server.http, json=body, headers={**headers, "accept": "text/event-stream"}
            ) as response:
                assert response.status_code == 200
                yield _distinct(response)
        else:
            reserved = await client.put(server.http, headers=headers)
            assert reserved.status_code == 201, reserved.text
            headers[TOKEN] = reserved.text
            async with client.stream(
                "GET", server.http, headers={**headers, "accept": "text/event-stream"}
            ) as response:
                assert response.status_code == 200
                answer = await client.post(
                    server.http, json={**body, "extensions": {"operationId": "op"}}, headers=headers
                )
                assert answer.status_code == 202, answer.text
                yield _single(response, "op")


async def _parts(parts: Parts) -> Results:
    while (payload := await parts.payload()) is not None:
        yield payload


async def _distinct(response: httpx.Response) -> Results:
    async for kind, data in events(response):
        if kind == "complete":
            return
        if kind == "next":
            yield data


async def _single(response: httpx.Response, operation_id: str) -> Results:
    async for kind, data in events(response):
        if kind == ":" or data["id"] != operation_id:
            continue
        if kind == "complete":
            return
        yield data["payload"]


async def ended(results: Results, wait: float) -> bool:
    """Whether the subscription completes within `wait` seconds, with nothing more."""
    with contextlib.suppress(StopAsyncIteration):
        async with asyncio.timeout(wait):
            extra = await anext(results)
        raise AssertionError(f"a result after the end: {extra}")
    return True
