"""The planned read path over HTTP: a POSTed query with a plan skips the GraphQL view.

Strawberry's view, its extension runner and building an executor cost about 0.25 ms
before any data. A planned request needs none of them: its document was parsed and
validated before (the limits included), its variables are coerced here, and the
extensions have nothing to do for it (no errors to code, no cache trace asked for, no
WebSocket context to copy). Anything else returns None and takes the view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.graphql.plan.run import Plans
from app.graphql.plan.state import Fallback

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
    found = plans.find(*asked)
    if found is None:
        return None
    plan, variables = found
    sub_response = Response()
    context = await view.get_context(request, sub_response)
    try:
        data = await plan.run(context, variables)
    except Fallback:
        return None
    finally:
        context.loaders.clear()
    media_type = negotiate(request.headers.get("accept"))
    response = Response(orjson.dumps({"data": data}), media_type=f"{media_type}; charset=utf-8")
    response.headers["x-request-id"] = context.request_id
    response.headers[PATH_HEADER] = "plan"
    return response
