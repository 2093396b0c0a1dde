"""Moving many orders at once. Admins only."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.graphql.bulk import BulkItemError, ErrorPolicy, bulk_write, ids_batch
from app.graphql.context import Info
from app.graphql.orders.types import Order, OrderStatus
from app.queries.orders import OrderRecord
from app.services import bulk, orders
from app.services.audit import Actor


@strawberry.type(description="The orders moved, and what was wrong with the others.")
class BulkUpdateOrderStatusPayload:
    count: int = strawberry.field(description="How many orders were moved.")
    orders: list[Order] = strawberry.field(description="The moved orders, in input order.")
    errors: list[BulkItemError]
    failed_count: int = strawberry.field(description="How many items were not written.")


@strawberry.type
class OrderBulkMutation:
    @strawberry.mutation(
        description="Move up to 10000 orders to one status, with the rules of "
        "updateOrderStatus (CANCELLED restocks). Admins only."
    )
    async def bulk_update_order_status(
        self,
        info: Info,
        ids: list[strawberry.ID],
        status: OrderStatus,
        error_policy: ErrorPolicy = ErrorPolicy.REJECT_EVERYTHING,
    ) -> BulkUpdateOrderStatusPayload:
        async def work(
            conn: AsyncConnection, actor: Actor, batch: bulk.Batch[None]
        ) -> bulk.BulkResult[OrderRecord]:
            return await orders.bulk_update_order_status(
                conn, actor=actor, batch=batch, status=status.value
            )

        outcome = await bulk_write(info, lambda: ids_batch(ids, "Order", policy=error_policy), work)
        return BulkUpdateOrderStatusPayload(
            count=len(outcome.written),
            orders=[Order.from_record(record) for record in outcome.written],
            errors=outcome.errors,
            failed_count=outcome.failed_count,
        )
