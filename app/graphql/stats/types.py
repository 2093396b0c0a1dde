"""Sales aggregates as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.scalars import Money
from app.queries import stats


@strawberry.type(description="Sales figures; cancelled orders do not count.")
class SalesStats:
    units_sold: int
    revenue: Money = strawberry.field(description="Units times the prices they sold at.")
    order_count: int

    @classmethod
    def from_record(cls, record: stats.SalesStats) -> SalesStats:
        return cls(
            units_sold=record.units_sold,
            revenue=Money(record.revenue),
            order_count=record.order_count,
        )


@strawberry.type(description="A user's orders in figures; cancelled orders do not count.")
class OrderStats:
    count: int
    total_spent: Money
    last_order_at: datetime | None

    @classmethod
    def from_record(cls, record: stats.OrderStats) -> OrderStats:
        return cls(
            count=record.count,
            total_spent=Money(record.total_spent),
            last_order_at=record.last_order_at,
        )
