"""OTEL_EXPORTER_OTLP_ENDPOINT: a real server sends its spans to a real OTLP/HTTP
receiver: the ASGI request, one span per GraphQL operation, one per loader batch (never
one per field), and the SQLAlchemy and Redis instrumentations' spans, in one trace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.observability.conftest import Observed

NESTED = """query Nested {
  users(first: 3) { edges { node { id orders(first: 2) { edges { node {
    id items { quantity product { name } } } } } } } }
}"""


def attributes(span: Span) -> dict[str, object]:
    values: dict[str, object] = {}
    for attribute in span.attributes:
        kind = attribute.value.WhichOneof("value")
        values[attribute.key] = getattr(attribute.value, kind) if kind else None
    return values


async def until(observed: Observed, holds: Callable[[list[Span]], bool]) -> list[Span]:
    for _ in range(150):
        spans = observed.receiver.received()
        if holds(spans):
            return spans
        await asyncio.sleep(0.1)
    raise AssertionError([span.name for span in observed.receiver.received()])


async def test_an_operation_is_one_trace_with_batch_spans_not_field_spans(
    observed: Observed,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{observed.base}/graphql",
            json={"query": NESTED},
            headers={"authorization": f"Bearer {observed.admin}"},
        )
    body = response.json()
    assert "errors" not in body, body
    users = body["data"]["users"]["edges"]
    fields = sum(
        1 + len(order["node"]["items"])
        for user in users
        for order in user["node"]["orders"]["edges"]
    )

    def operation(spans: list[Span]) -> Span | None:
        return next((s for s in spans if s.name == "graphql.query Nested"), None)

    spans = await until(observed, lambda spans: operation(spans) is not None)
    op = operation(spans)
    assert op is not None
    assert attributes(op)["graphql.operation.name"] == "Nested"
    assert attributes(op)["graphql.operation.type"] == "query"
    # Let the rest of the trace's batch arrive too.
    trace = op.trace_id
    spans = await until(
        observed,
        lambda spans: any(s.trace_id == trace and s.kind == Span.SPAN_KIND_SERVER for s in spans),
    )
    mine = [s for s in spans if s.trace_id == trace]
    names = [s.name for s in mine]
    # The ASGI instrumentation's server span is the root; the operation is under it.
    server = next(s for s in mine if s.kind == Span.SPAN_KIND_SERVER)
    assert server.name.startswith("POST")
    assert not server.parent_span_id
    batches = [s for s in mine if s.name == "dataloader.batch"]
    assert batches, names
    # One batch per loader and level: orders, items and products (however many fields).
    assert len(batches) <= 4 < fields, (len(batches), fields)
    assert all(int(str(attributes(s)["dataloader.keys"])) >= 1 for s in batches)
    ids = {s.span_id for s in mine}
    assert all(s.parent_span_id in ids for s in batches)
    # SQLAlchemy's instrumentation: a span per statement, with its text, in this trace.
    sql = [s for s in mine if "db.statement" in attributes(s)]
    assert sql
    assert all(s.kind == Span.SPAN_KIND_CLIENT for s in sql)
    assert not any(name.startswith("graphql.resolve") for name in names)
    assert observed.receiver.paths
    assert set(observed.receiver.paths) == {"/v1/traces"}


async def test_redis_commands_are_traced(observed: Observed) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{observed.base}/graphql",
            json={"query": "query Top { topProducts(limit: 2) { sales { unitsSold } } }"},
            headers={"authorization": f"Bearer {observed.admin}"},
        )
    assert "errors" not in response.json(), response.json()

    def redis(spans: list[Span]) -> bool:
        return any(attributes(s).get("db.system") == "redis" for s in spans)

    await until(observed, redis)
