"""Query.node and Query.nodes: fetch any object by its global ID, batched by type.

Every type that implements Node in the schema is fetched here, by the same rules as the
fields that lead to it. The registry is derived from the schema: building a schema with
a Node type that has no resolver here fails (see `node_registry`), so a new type cannot
be forgotten.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import strawberry
from graphql import GraphQLInterfaceType, GraphQLSchema

from app.auth import policy
from app.errors import BadInput, Unauthenticated
from app.graphql.audit.types import AuditEvent, hidden_actions
from app.graphql.context import Info
from app.graphql.cost import ListSize
from app.graphql.orders.queries import visible_order
from app.graphql.orders.types import Order, OrderItem
from app.graphql.products.types import Product
from app.graphql.relay import Node, from_global_id
from app.graphql.tokens.types import ApiToken
from app.graphql.users.queries import visible_user
from app.graphql.users.types import User
from app.graphql.webhooks.types import Webhook, WebhookDelivery
from app.queries.audit import AuditRecord
from app.webhooks import records as webhook_records

MAX_NODES = 100

NodeResolver = Callable[[Info, uuid.UUID], Awaitable[Node | None]]


async def _product(info: Info, pk: uuid.UUID) -> Node | None:
    record = await info.context.loaders.product_by_id.load(pk)
    return Product.from_record(record) if record else None


async def _order_item(info: Info, pk: uuid.UUID) -> Node | None:
    record = await info.context.loaders.order_item_by_id.load(pk)
    if record is None or await visible_order(info, record.order_id) is None:
        return None
    return OrderItem.from_record(record)


async def _api_token(info: Info, pk: uuid.UUID) -> Node | None:
    """Like User.apiTokens: only for the token's owner and admins."""
    viewer = info.context.viewer
    policy.require_user(viewer, to="read API tokens")
    record = await info.context.loaders.token_by_id.load(pk)
    if record is None or not policy.can_read_user(viewer, record.user_id):
        return None
    return ApiToken.from_record(record)


async def _audit_event(info: Info, pk: uuid.UUID) -> Node | None:
    """Admins see every event (as in auditEvents); others those `history` shows them."""
    record = await info.context.loaders.audit_event_by_id.load(pk)
    if record is None:
        return None
    if not info.context.viewer.is_admin and not await _in_visible_history(info, record):
        return None
    return AuditEvent.from_record(record)


async def _in_visible_history(info: Info, record: AuditRecord) -> bool:
    """Whether the event appears in the `history` of an object the viewer may read."""
    registry = node_registry(info.schema._schema)
    if record.action in hidden_actions(info) or record.entity_type not in registry.with_history:
        return False
    try:
        found = await registry.resolvers[record.entity_type](info, record.entity_id)
    except Unauthenticated:
        return False
    return found is not None


async def _webhook(info: Info, pk: uuid.UUID) -> Node | None:
    """Like webhooks: admins only."""
    policy.require_admin(info.context.viewer, to="read webhooks")
    record = await info.context.loaders.run(lambda conn: webhook_records.webhook_by_id(conn, pk))
    return Webhook.from_record(record) if record else None


async def _webhook_delivery(info: Info, pk: uuid.UUID) -> Node | None:
    policy.require_admin(info.context.viewer, to="read webhook deliveries")
    record = await info.context.loaders.run(lambda conn: webhook_records.delivery_by_id(conn, pk))
    return WebhookDelivery.from_record(record) if record else None


# Each type resolves by the same rules as its own root field.
_RESOLVERS: dict[type, NodeResolver] = {
    User: visible_user,
    Product: _product,
    Order: visible_order,
    OrderItem: _order_item,
    ApiToken: _api_token,
    AuditEvent: _audit_event,
    Webhook: _webhook,
    WebhookDelivery: _webhook_delivery,
}


@dataclass(frozen=True, slots=True)
class NodeRegistry:
    """How node() fetches each Node type of one schema, by GraphQL type name."""

    resolvers: Mapping[str, NodeResolver]
    # The Node types that carry `history` (whose events non-admins may see).
    with_history: frozenset[str]


_REGISTRIES: WeakKeyDictionary[GraphQLSchema, NodeRegistry] = WeakKeyDictionary()


def node_registry(schema: GraphQLSchema) -> NodeRegistry:
    """The registry for `schema`'s Node types; TypeError if one of them has no resolver."""
    registry = _REGISTRIES.get(schema)
    if registry is not None:
        return registry
    interface = schema.get_type("Node")
    assert isinstance(interface, GraphQLInterfaceType)
    types = schema.get_possible_types(interface)
    resolvers: dict[str, NodeResolver] = {}
    for type_ in types:
        resolve = _RESOLVERS.get(type_.extensions["strawberry-definition"].origin)
        if resolve is not None:
            resolvers[type_.name] = resolve
    missing = sorted({type_.name for type_ in types} - set(resolvers))
    if missing:
        raise TypeError(
            f"node() cannot fetch {', '.join(missing)}: add a resolver to "
            "app.graphql.node._RESOLVERS that applies the type's read rules."
        )
    with_history = frozenset(type_.name for type_ in types if "history" in type_.fields)
    registry = _REGISTRIES[schema] = NodeRegistry(resolvers, with_history)
    return registry


async def _resolve(info: Info, value: str, argument: str) -> Node | None:
    type_name, pk = from_global_id(value, argument=argument)
    resolve = node_registry(info.schema._schema).resolvers.get(type_name)
    if resolve is None:
        raise BadInput(f"`{argument}` names no type this API serves.", field=argument)
    return await resolve(info, pk)


async def _resolve_or_null(info: Info, value: str, argument: str) -> Node | None:
    """In a list, an object the caller may not see is null, like a missing one: the
    public objects beside it still arrive."""
    try:
        return await _resolve(info, value, argument)
    except Unauthenticated:
        return None


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global ID, or null if there is none.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _resolve(info, id, "id")

    @strawberry.field(
        description=f"Objects by global ID, in the order asked (null where there is none); "
        f"at most {MAX_NODES}.",
        directives=[
            ListSize(
                slicing_arguments=["ids"],
                assumed_size=MAX_NODES,
                require_one_slicing_argument=False,
            )
        ],
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadInput(f"`ids` takes at most {MAX_NODES} IDs; got {len(ids)}.", field="ids")
        return list(
            await asyncio.gather(
                *(_resolve_or_null(info, value, f"ids[{index}]") for index, value in enumerate(ids))
            )
        )
