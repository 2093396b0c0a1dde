"""Placing, moving and cancelling orders."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.graphql.context import Info
from app.graphql.orders.types import Order, OrderStatus
from app.graphql.payloads import InputError, write
from app.graphql.relay import pk_of
from app.queries.orders import OrderRecord
from app.services import orders
from app.services.audit import Actor
from app.services.validation import validate


@strawberry.input(description="One line of a new order.")
class OrderLineInput:
    product_id: strawberry.ID
    quantity: int = strawberry.field(description="1 to 1000.")


@strawberry.input(description="A new order: at most 100 lines, each product once.")
class PlaceOrderInput:
    items: list[OrderLineInput]
    idempotency_key: str = strawberry.field(
        description="Your id for this order (1-200 chars): a retry with the same key returns "
        "the first order and places nothing new."
    )
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="Admins may order for someone else; default: you."
    )


@strawberry.input(description="Move an order to its next status. Admins only.")
class UpdateOrderStatusInput:
    id: strawberry.ID
    status: OrderStatus
    expected_version: int


@strawberry.input(description="Cancel your pending order; its stock goes back on sale.")
class CancelOrderInput:
    id: strawberry.ID
    expected_version: int


@strawberry.type(description="The order after the change, or what to fix.")
class OrderPayload:
    order: Order | None
    errors: list[InputError]


def _payload(result: tuple[OrderRecord | None, list[InputError]]) -> OrderPayload:
    record, errors = result
    return OrderPayload(order=Order.from_record(record) if record else None, errors=errors)


@strawberry.type
class OrderMutation:
    @strawberry.mutation(
        description="Place an order: checks and takes stock, snapshots prices, totals it."
    )
    async def place_order(self, info: Info, input: PlaceOrderInput) -> OrderPayload:
        lines = [
            {
                "product_id": pk_of(line.product_id, "Product", argument=f"items.{i}.productId"),
                "quantity": line.quantity,
            }
            for i, line in enumerate(input.items)
        ]
        user_id = pk_of(input.user_id, "User", argument="userId") if input.user_id else None

        async def work(conn: AsyncConnection, actor: Actor) -> OrderRecord:
            data = validate(
                orders.NewOrder,
                user_id=user_id,
                items=lines,
                idempotency_key=input.idempotency_key,
            )
            return await orders.place_order(conn, actor=actor, data=data)

        return _payload(await write(info, work))

    @strawberry.mutation(
        description="PENDING -> PAID -> SHIPPED -> DELIVERED; PENDING or PAID -> CANCELLED "
        "(restocks). Admins only."
    )
    async def update_order_status(self, info: Info, input: UpdateOrderStatusInput) -> OrderPayload:
        order_id = pk_of(input.id, "Order")

        async def work(conn: AsyncConnection, actor: Actor) -> OrderRecord:
            return await orders.update_order_status(
                conn,
                actor=actor,
                order_id=order_id,
                status=input.status.value,
                expected_version=input.expected_version,
            )

        return _payload(await write(info, work))

    @strawberry.mutation(description="Cancel your own pending order; its stock is put back.")
    async def cancel_order(self, info: Info, input: CancelOrderInput) -> OrderPayload:
        order_id = pk_of(input.id, "Order")

        async def work(conn: AsyncConnection, actor: Actor) -> OrderRecord:
            return await orders.cancel_order(
                conn,
                actor=actor,
                order_id=order_id,
                expected_version=input.expected_version,
            )

        return _payload(await write(info, work))
