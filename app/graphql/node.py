"""Query.node and Query.nodes: fetch any object by its global ID, batched by type."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import strawberry

from app.errors import BadInput, Unauthenticated
from app.graphql.context import Info
from app.graphql.orders.queries import visible_order
from app.graphql.orders.types import OrderItem
from app.graphql.products.types import Product
from app.graphql.relay import Node, from_global_id
from app.graphql.users.queries import visible_user

MAX_NODES = 100


async def _product(info: Info, pk: uuid.UUID) -> Node | None:
    record = await info.context.loaders.product_by_id.load(pk)
    return Product.from_record(record) if record else None


async def _order_item(info: Info, pk: uuid.UUID) -> Node | None:
    record = await info.context.loaders.order_item_by_id.load(pk)
    if record is None or await visible_order(info, record.order_id) is None:
        return None
    return OrderItem.from_record(record)


# Each type resolves by the same rules as its own root field.
_RESOLVERS: dict[str, Callable[[Info, uuid.UUID], Awaitable[Node | None]]] = {
    "User": visible_user,
    "Product": _product,
    "Order": visible_order,
    "OrderItem": _order_item,
}


async def _resolve(info: Info, value: str, argument: str) -> Node | None:
    type_name, pk = from_global_id(value, argument=argument)
    resolve = _RESOLVERS.get(type_name)
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
        f"at most {MAX_NODES}."
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadInput(f"`ids` takes at most {MAX_NODES} IDs; got {len(ids)}.", field="ids")
        return list(
            await asyncio.gather(
                *(_resolve_or_null(info, value, f"ids[{index}]") for index, value in enumerate(ids))
            )
        )
