"""Input types shared by every domain's filters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.errors import BadInput
from app.graphql.scalars import Money
from app.queries import filters


@strawberry.input(
    description="A time range: `from` inclusive, `to` exclusive; either may be left out."
)
class DateTimeRange:
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None

    def to_query(self, *, field: str) -> filters.TimeRange:
        for name, value in (("from", self.from_), ("to", self.to)):
            if value is not None and value.tzinfo is None:
                raise BadInput(
                    f"`{field}.{name}` needs a time zone, e.g. 2026-01-31T00:00:00Z.",
                    field=field,
                )
        return filters.TimeRange(start=self.from_, end=self.to)


@strawberry.input(description="An amount range, both bounds inclusive; either may be left out.")
class MoneyRange:
    min: Money | None = None
    max: Money | None = None

    def to_query(self) -> filters.MoneyRange:
        return filters.MoneyRange(min=_decimal(self.min), max=_decimal(self.max))


def _decimal(value: object) -> Decimal | None:
    return value if isinstance(value, Decimal) else None
