"""Root fields for orders, and the orders connection on User."""

from __future__ import annotations

import dataclasses
import uuid

import strawberry

from app.auth import policy
from app.auth.viewer import Viewer
from app.graphql.connections import PageArgs, list_field, paging
from app.graphql.context import Context, Info
from app.graphql.lookahead import selects
from app.graphql.orders.prefetch import attach_lines, prefetch_order_children
from app.graphql.orders.types import Order, OrderFilter, OrderSort
from app.graphql.relay import Connection, build_connection, pk_of
from app.queries import orders
from app.queries.keyset import Ordering

DEFAULT_ORDER = Ordering(orders.SORT_KEYS["CREATED_AT"], descending=True)


async def user_orders(
    info: Info,
    *,
    user_id: uuid.UUID,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: OrderFilter | None,
    order_by: OrderSort | None,
) -> Connection[Order]:
    """One user's page of orders, batched with every other user's on the same level."""
    codec, window = paging(
        info,
        entity="Order",
        args=PageArgs(first, after, last, before),
        order_by=order_by,
        keys=orders.SORT_KEYS,
        default=DEFAULT_ORDER,
    )
    where = filter.to_query() if filter else None
    loaders = info.context.loaders
    lines = None
    if selects(info, "edges", "node", "items") or selects(info, "edges", "node", "itemCount"):
        # The items (and products) of every user's page come in the same batch.
        with_products = selects(info, "edges", "node", "items", "product")
        loader = loaders.orders_page_with_lines_by_user_id(
            where, window, with_products=with_products
        )
        page, lines = await loader.load(user_id)
    else:
        page = await loaders.orders_page_by_user_id(where, window).load(user_id)
    connection = build_connection(
        page,
        codec=codec,
        node=Order.from_record,
        count=lambda: loaders.order_count_by_user_id(where).load(user_id),
    )
    if lines is not None:
        attach_lines(info, [edge.node for edge in connection.edges], lines)
    return connection


def visible_orders(viewer: Viewer, where: orders.OrderWhere | None) -> orders.OrderWhere:
    """`where` narrowed to the orders the viewer may read (the connection and exports)."""
    scope = policy.owner_scope(viewer, to="read orders")
    return dataclasses.replace(where or orders.OrderWhere(), visible_to=scope)


async def _prefetch(info: Info, orders: list[Order]) -> None:
    await prefetch_order_children(info, orders, "edges", "node")


@strawberry.type
class OrderQuery:
    orders = list_field(
        entity="Order",
        node=Order,
        filter_input=OrderFilter,
        order_input=OrderSort,
        keys=orders.SORT_KEYS,
        default=DEFAULT_ORDER,
        fetch_page=orders.orders_page,
        fetch_count=orders.count_orders,
        description="Orders you may see, newest first unless orderBy says otherwise: "
        "everyone's for admins, your own otherwise.",
        prefetch=_prefetch,
        restrict=visible_orders,
    )

    @strawberry.field(description="One order by ID, or null if there is none you may see.")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        return await visible_order(info, pk_of(id, "Order"))


async def visible_order(info: Info, order_id: uuid.UUID) -> Order | None:
    """The order if the viewer may see it; someone else's order is simply not there."""
    record = await visible_order_record(info.context, order_id)
    return Order.from_record(record) if record else None


def check_read_orders(viewer: Viewer) -> None:
    """Raises for a viewer who may read no order at all (before anything is read)."""
    policy.require_user(viewer, to="read orders")


async def visible_order_record(context: Context, order_id: uuid.UUID) -> orders.OrderRecord | None:
    viewer = context.viewer
    check_read_orders(viewer)
    record = await context.loaders.order_by_id.load(order_id)
    if record is None or not policy.can_read_order(viewer, record.user_id):
        return None
    return record
