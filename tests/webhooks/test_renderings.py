"""The renderer's cache: endpoints with the same owner and document share one rendering
per event; another owner never gets a rendering made with someone else's rights.

No field of today's event types reads differently for two owners who may both see an
event, so the schema here is one whose answer is the viewer: any rendering handed from
one owner to another shows at once.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
)

from app.auth.viewer import Viewer
from app.webhooks.payloads import RECENT_RENDERINGS, Renderer
from tests.events.test_broker import event as an_event

WHO = "subscription { productEvents { seenBy } }"


def _renderer() -> tuple[Renderer, list[Viewer]]:
    executed: list[Viewer] = []

    def seen_by(_: object, info: Any) -> str:
        executed.append(info.context)
        if info.context.role == "flaky" and executed.count(info.context) == 1:
            raise RuntimeError("a passing failure")
        return str(info.context.user_id)

    event = GraphQLObjectType("Ev", {"seenBy": GraphQLField(GraphQLString, resolve=seen_by)})
    query = GraphQLObjectType("Query", {"ok": GraphQLField(GraphQLString)})
    subscription = GraphQLObjectType(
        "Subscription", {"productEvents": GraphQLField(event, resolve=lambda root, _: root)}
    )
    schema = GraphQLSchema(query=query, subscription=subscription)
    return Renderer(schema, context=lambda viewer: viewer, roots={"product": lambda e: e}), executed


def _seen_by(body: bytes) -> str:
    value: str = orjson.loads(body)["data"]["seenBy"]
    return value


async def test_one_owner_s_endpoints_share_a_rendering_per_event() -> None:
    renderer, executed = _renderer()
    owner = Viewer(user_id=uuid.uuid4(), role="admin")
    event = an_event(1)
    first = await renderer.render(event, document=WHO, owner=owner)
    again = await renderer.render(event, document=WHO, owner=Viewer(owner.user_id, "admin"))
    assert again is first
    assert len(executed) == 1
    await renderer.render(an_event(2), document=WHO, owner=owner)  # another event: its own
    await renderer.render(event, document=WHO + " ", owner=owner)  # another document too
    assert len(executed) == 3


async def test_another_owner_never_gets_a_rendering_made_with_other_rights() -> None:
    renderer, executed = _renderer()
    event = an_event(1)
    admin = Viewer(user_id=uuid.uuid4(), role="admin")
    other = Viewer(user_id=uuid.uuid4(), role="admin")
    assert _seen_by(await renderer.render(event, document=WHO, owner=admin)) == str(admin.user_id)
    assert _seen_by(await renderer.render(event, document=WHO, owner=other)) == str(other.user_id)
    demoted = Viewer(user_id=admin.user_id, role="user")  # the same owner with fewer rights
    await renderer.render(event, document=WHO, owner=demoted)
    assert executed == [admin, other, demoted]


async def test_the_cache_is_bounded() -> None:
    renderer, executed = _renderer()
    owner = Viewer(user_id=uuid.uuid4(), role="admin")
    for position in range(RECENT_RENDERINGS + 1):
        await renderer.render(an_event(position), document=WHO, owner=owner)
    await renderer.render(an_event(0), document=WHO, owner=owner)  # the oldest was let go
    assert len(executed) == RECENT_RENDERINGS + 2


async def test_a_rendering_with_errors_is_done_again_next_time() -> None:
    renderer, executed = _renderer()
    owner = Viewer(user_id=uuid.uuid4(), role="flaky")
    event = an_event(1)
    failed = orjson.loads(await renderer.render(event, document=WHO, owner=owner))
    assert failed["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert _seen_by(await renderer.render(event, document=WHO, owner=owner)) == str(owner.user_id)
    assert len(executed) == 2
