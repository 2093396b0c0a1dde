"""Query.node and Query.nodes: fetch any object by its global ID, batched by type."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from app.errors import BadInput
from app.graphql.context import Info
from app.graphql.orders.types import Order, OrderItem
from app.graphql.products.types import Product
from app.graphql.relay import Node, from_global_id
from app.graphql.users.types import User
from app.loaders import Loaders

MAX_NODES = 100

_RESOLVERS: dict[str, Callable[[Loaders, Any], Awaitable[Node | None]]] = {}


def _register(type_name: str, pick: Callable[[Loaders], Any], build: Callable[[Any], Node]) -> None:
    async def resolve(loaders: Loaders, pk: Any) -> Node | None:
        record = await pick(loaders).load(pk)
        return build(record) if record is not None else None

    _RESOLVERS[type_name] = resolve


_register("User", lambda loaders: loaders.user_by_id, User.from_record)
_register("Product", lambda loaders: loaders.product_by_id, Product.from_record)
_register("Order", lambda loaders: loaders.order_by_id, Order.from_record)
_register("OrderItem", lambda loaders: loaders.order_item_by_id, OrderItem.from_record)


async def _resolve(info: Info, value: str, argument: str) -> Node | None:
    type_name, pk = from_global_id(value, argument=argument)
    resolve = _RESOLVERS.get(type_name)
    if resolve is None:
        raise BadInput(f"`{argument}` names no type this API serves.", field=argument)
    return await resolve(info.context.loaders, pk)


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
                *(_resolve(info, value, f"ids[{index}]") for index, value in enumerate(ids))
            )
        )
