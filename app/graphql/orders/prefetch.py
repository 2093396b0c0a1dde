"""Load the items and products of many orders at once, ahead of their resolvers.

Called by every resolver that returns a page of orders. The loads go through the
request's loaders, so the pages of all users on one level still share one statement
per level; each Order and OrderItem then resolves `items` and `product` without
awaiting. Resolvers fall back to the loaders for objects nobody prefetched.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.graphql.context import Info
from app.graphql.lookahead import selects
from app.graphql.orders.types import Order, OrderItem
from app.graphql.products.types import Product
from app.loaders.registry import OrderLines
from app.queries.products import ProductRecord


def product_node(info: Info, record: ProductRecord) -> Product:
    """The request's one Product node for `record` (order lines share their products)."""
    shared = info.context.shared_nodes
    key = ("Product", record.id)
    node = shared.get(key)
    if node is None:
        node = shared[key] = Product.from_record(record)
    assert isinstance(node, Product)
    return node


def attach_lines(info: Info, orders: Sequence[Order], lines: OrderLines) -> None:
    """Give `orders` their items, and the items their products when `lines` has them."""
    products = lines.products
    for order in orders:
        order.prefetched_items = [
            OrderItem.from_record(record) for record in lines.items.get(order.pk, ())
        ]
        if products:
            for item in order.prefetched_items:
                found = products.get(item.product_pk)
                item.prefetched_product = product_node(info, found) if found else None


async def prefetch_order_children(info: Info, orders: Sequence[Order], *path: str) -> None:
    """Fill in items (and their products) for `orders` if the query asks for them.

    `path` leads from the current field to the orders, e.g. ("edges", "node").
    """
    if not orders:
        return
    wants_items = selects(info, *path, "items") or selects(info, *path, "itemCount")
    if not wants_items:
        return
    loaders = info.context.loaders
    item_lists = await loaders.items_by_order_id.load_many([order.pk for order in orders])
    items: list[OrderItem] = []
    for order, records in zip(orders, item_lists, strict=True):
        order.prefetched_items = [OrderItem.from_record(record) for record in records]
        items.extend(order.prefetched_items)
    if not items or not selects(info, *path, "items", "product"):
        return
    product_ids = list({item.product_pk: None for item in items})
    found = await loaders.product_by_id.load_many(product_ids)
    products = {record.id: product_node(info, record) for record in found if record is not None}
    for item in items:
        item.prefetched_product = products.get(item.product_pk)
