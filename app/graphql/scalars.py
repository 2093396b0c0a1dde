"""Custom scalars."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NewType

import strawberry

_CENT = Decimal("0.01")


def _serialize_money(value: Decimal) -> str:
    return str(value.quantize(_CENT))


def _parse_money(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('Money must be a decimal string such as "19.99".')
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(
            f'Money must be a decimal string such as "19.99", not {value!r}.'
        ) from None
    if not number.is_finite():
        raise ValueError("Money must be a finite amount.")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError(f"Money has at most two decimal places; got {value!r}.")
    return number


Money = NewType("Money", Decimal)

MONEY = strawberry.scalar(
    name="Money",
    description='An exact amount of money as a decimal string with two places, e.g. "19.99".',
    serialize=_serialize_money,
    parse_value=_parse_money,
)
