"""The webhook dispatcher's view of the schema: payload documents executed as the
endpoint's owner, in a context like a request's (no HTTP request behind it)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request

from app.auth.viewer import RequestMeta, Viewer
from app.events.records import Event
from app.graphql.context import Context
from app.graphql.events.types import OrderEvent, ProductEvent, UserEvent
from app.graphql.schema import Schema
from app.loaders import Loaders
from app.webhooks.payloads import Renderer


def renderer(app: Starlette, schema: Schema) -> Renderer:
    state = app.state
    scope = {"type": "http", "app": app, "method": "POST", "path": "/", "headers": []}

    def context(viewer: Viewer) -> Context:
        return Context(
            request=Request(scope),
            loaders=Loaders(state.reader),
            settings=state.settings,
            viewer=viewer,
            meta=RequestMeta(request_id="webhook", user_agent="ordergraph-webhooks"),
            writer=state.engine,
            authenticator=state.authenticator,
        )

    roots: dict[str, Callable[[Event], object]] = {
        "order": OrderEvent.from_event,
        "product": ProductEvent.from_event,
        "user": UserEvent.from_event,
    }
    return Renderer(schema._schema, context=context, roots=roots)
