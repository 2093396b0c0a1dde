"""What a plan reads: the resolvers' own reads, rules and loaders, without the resolvers.

Each function here stands for a resolver and calls what that resolver calls: the same
visibility rules (app.auth.policy through the domain's `visible_*` and `check_*`), the
same loaders (so the same statements, batched the same way) and the same field cache.
`prepare_*` runs before anything is read and may raise: the request then takes the
executor, which raises the same error where the field is.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from app.graphql.connections import ListSpec, root_connection
from app.graphql.orders.queries import (
    DEFAULT_ORDER as ORDERS_DEFAULT,
)
from app.graphql.orders.queries import (
    check_read_orders,
    visible_order_record,
)
from app.graphql.plan.state import Fallback, State
from app.graphql.relay import Connection, build_connection, pk_of, window_of
from app.graphql.users.queries import check_read_users, visible_user_record
from app.queries.keyset import CursorCodec, Window

__all__ = ["Fallback"]

_LOOKUP_TYPES = {"user": "User", "product": "Product", "order": "Order"}


def _record(record: Any) -> Any:
    return record


def _no_filters(arguments: dict[str, Any]) -> None:
    if arguments.get("filter") is not None or arguments.get("orderBy") is not None:
        raise Fallback("filter or orderBy")


def prepare_lookup(state: State, name: str, arguments: dict[str, Any]) -> uuid.UUID | None:
    viewer = state.context.viewer
    if name == "viewer":
        return viewer.user_id
    pk = pk_of(arguments["id"], _LOOKUP_TYPES[name])
    if name == "user":
        check_read_users(viewer)
    elif name == "order":
        check_read_orders(viewer)
    return pk


async def lookup(state: State, name: str, pk: uuid.UUID | None) -> Any:
    context = state.context
    if pk is None:
        return None  # viewer, anonymous
    if name in ("user", "viewer"):
        return await visible_user_record(context, pk)
    if name == "order":
        return await visible_order_record(context, pk)
    return await context.loaders.product_by_id.load(pk)


def _window(state: State, codec: CursorCodec, arguments: dict[str, Any]) -> Window:
    return window_of(
        settings=state.context.settings,
        codec=codec,
        first=arguments.get("first"),
        after=arguments.get("after"),
        last=arguments.get("last"),
        before=arguments.get("before"),
    )


def prepare_root_page(
    state: State, spec: ListSpec, arguments: dict[str, Any]
) -> tuple[CursorCodec, Window, Any]:
    _no_filters(arguments)
    codec = CursorCodec(spec.entity, spec.default)
    window = _window(state, codec, arguments)
    return codec, window, spec.restrict(state.context.viewer, None)


async def root_page(
    state: State, spec: ListSpec, prepared: tuple[CursorCodec, Window, Any]
) -> Connection[Any]:
    codec, window, where = prepared
    return await root_connection(
        state.context,
        codec=codec,
        window=window,
        where=where,
        fetch_page=spec.fetch_page,
        fetch_count=spec.fetch_count,
        node=_record,
        cache=spec.cache,
    )


def prepare_user_orders(state: State, arguments: dict[str, Any]) -> tuple[CursorCodec, Window]:
    _no_filters(arguments)
    codec = CursorCodec("Order", ORDERS_DEFAULT)
    return codec, _window(state, codec, arguments)


async def user_orders(
    state: State,
    user_ids: Sequence[uuid.UUID],
    prepared: tuple[CursorCodec, Window],
    *,
    items: bool,
    products: bool,
) -> list[Connection[Any]]:
    """As User.orders (app.graphql.orders.queries.user_orders) for a level of users."""
    codec, window = prepared
    loaders = state.context.loaders
    if items:
        loader = loaders.orders_page_with_lines_by_user_id(None, window, with_products=products)
        results = await loader.load_many(user_ids)
        pages = []
        for page, lines in results:
            pages.append(page)
            for order in page.rows:
                state.items[order.id] = list(lines.items.get(order.id, ()))
            state.products.update(lines.products)
    else:
        pages = await loaders.orders_page_by_user_id(None, window).load_many(user_ids)
    counter = loaders.order_count_by_user_id(None)

    def count_of(user_id: uuid.UUID) -> Callable[[], Awaitable[int]]:
        return lambda: counter.load(user_id)

    return [
        build_connection(page, codec=codec, node=_record, count=count_of(user_id))
        for user_id, page in zip(user_ids, pages, strict=True)
    ]


async def prefetch_lines(state: State, orders: list[Any], *, items: bool, products: bool) -> None:
    """As app.graphql.orders.prefetch.prefetch_order_children for a root page."""
    if not orders or not items:
        return
    loaders = state.context.loaders
    lists = await loaders.items_by_order_id.load_many([order.id for order in orders])
    for order, records in zip(orders, lists, strict=True):
        state.items[order.id] = records
    found = [item for records in lists for item in records]
    if found and products:
        await _load_products(state, list({item.product_id: None for item in found}))


async def fill_lines(state: State, orders: list[Any], *, products: bool) -> None:
    """Items (and products) for orders nobody prefetched, as Order.items and
    OrderItem.product load them when they resolve."""
    loaders = state.context.loaders
    missing = [order.id for order in orders if order.id not in state.items]
    if missing:
        lists = await loaders.items_by_order_id.load_many(missing)
        state.items.update(zip(missing, lists, strict=True))
    if products:
        wanted = {
            item.product_id: None
            for order in orders
            for item in state.items[order.id]
            if item.product_id not in state.products
        }
        if wanted:
            await _load_products(state, list(wanted))


async def _load_products(state: State, ids: list[uuid.UUID]) -> None:
    found = await state.context.loaders.product_by_id.load_many(ids)
    for record in found:
        if record is not None:
            state.products[record.id] = record
