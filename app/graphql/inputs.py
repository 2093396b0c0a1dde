"""Input types shared by every domain's filters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.graphql.scalars import Money
from app.queries import filters
from app.queries.text import checked_money, checked_time


@strawberry.input(
    description="A time range: `from` inclusive, `to` exclusive; either may be left out."
)
class DateTimeRange:
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None

    def to_query(self, *, field: str) -> filters.TimeRange:
        return filters.TimeRange(
            start=checked_time(self.from_, field=f"{field}.from") if self.from_ else None,
            end=checked_time(self.to, field=f"{field}.to") if self.to else None,
        )


@strawberry.input(description="An amount range, both bounds inclusive; either may be left out.")
class MoneyRange:
    min: Money | None = None
    max: Money | None = None

    def to_query(self, *, field: str) -> filters.MoneyRange:
        return filters.MoneyRange(
            min=_money(self.min, field=f"{field}.min"), max=_money(self.max, field=f"{field}.max")
        )


def _money(value: object, *, field: str) -> Decimal | None:
    return checked_money(value, field=field) if isinstance(value, Decimal) else None
