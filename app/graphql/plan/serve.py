"""The planned read path over HTTP: a POSTed query with a plan skips the GraphQL view.

Strawberry's view, its extension runner and building an executor cost about 0.25 ms
before any data. A planned request needs none of them: its document was parsed and
validated before (the limits included), its variables are coerced here, and the
extensions have nothing to do for it (no errors to code, no cache trace asked for, no
WebSocket context to copy). Anything else returns None and takes the view.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
from graphql import get_operation_ast
from starlette.requests import Request
from starlette.responses import Response

from app.graphql.budget import buckets
from app.graphql.observe import record
from app.graphql.plan.run import Plans
from app.graphql.plan.state import Fallback
from app.observability import tracing
from app.observability.scope import CURRENT, OperationScope
from app.ratelimit.limiter import RateLimiter

if TYPE_CHECKING:
    from app.graphql.http import GraphQLApp

PATH_HEADER = "x-read-path"
_KEYS = frozenset(("query", "variables", "operationName", "extensions"))


def applies(request: Request) -> bool:
    headers = request.headers
    accept = headers.get("accept", "")
    return (
        request.method == "POST"
        and headers.get("content-type", "").lower().startswith("application/json")
        and "multipart/mixed" not in accept
        and "text/event-stream" not in accept
        and "x-cache-debug" not in headers
    )


def _request_data(body: bytes) -> tuple[str, str | None, dict[str, Any]] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not data.keys() <= _KEYS or data.get("extensions"):
        return None
    query, name, variables = data.get("query"), data.get("operationName"), data.get("variables")
    if not isinstance(query, str) or not isinstance(name, str | None):
        return None
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        return None
    return query, name, variables


async def serve(view: GraphQLApp, plans: Plans, request: Request) -> Response | None:
    """The answer from the request's plan, or None for the view to answer."""
    from app.graphql.http import negotiate

    if not applies(request):
        return None
    asked = _request_data(await request.body())
    if asked is None:
        return None
    if request.app.state.settings.trusted_documents_only:
        return None  # the view decides what is trusted (app.graphql.persisted)
    found = plans.find(*asked)
    if found is None:
        return None
    plan, variables = found
    query, operation_name, inputs = asked
    # The same limits as the view's: the cost for these variables (a slicing variable
    # changes it), then the rate limits charged with it. Anything refused goes to the
    # view, which answers COST_LIMIT_EXCEEDED or 429 RATE_LIMITED as for any request.
    caches = plans.caches
    document = caches.ready(query)
    cost = None
    name = operation_name
    if document is not None:
        # Named as the view names it (the document's only operation when none is asked).
        operation = get_operation_ast(document, operation_name)
        name = operation.name.value if operation and operation.name else operation_name
        cost = caches.cost_of(document, name, inputs)
    if cost is not None and cost > caches.max_cost:
        return None
    sub_response = Response()
    context = await view.get_context(request, sub_response)
    context.cost = cost
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    charged = buckets(context) if limiter is not None else []
    if limiter is not None and charged:
        verdict = await limiter.charge(charged, float(cost or 0))
        if not verdict.admitted:
            context.loaders.clear()
            return None
    # Measured, logged and traced as the view's Observe extension does it.
    started = time.perf_counter()
    scope = OperationScope(name=name)
    token = CURRENT.set(scope)
    span, attached = tracing.start_span("graphql.operation")
    try:
        data = await plan.run(context, variables)
    except Fallback:
        return None
    finally:
        CURRENT.reset(token)
        context.loaders.clear()
        if span is not None:
            span.set_attribute("graphql.operation.name", name or "")
            span.set_attribute("graphql.operation.type", "query")
            span.update_name(f"graphql.query {name or 'anonymous'}")
            tracing.end_span(span, attached)
    record(context, scope, "query", time.perf_counter() - started, [])
    media_type = negotiate(request.headers.get("accept"))
    response = Response(orjson.dumps({"data": data}), media_type=f"{media_type}; charset=utf-8")
    response.headers["x-request-id"] = context.request_id
    response.headers[PATH_HEADER] = "plan"
    return response
