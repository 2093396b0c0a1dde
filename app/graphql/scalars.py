"""Custom scalars."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NewType

import strawberry

_CENT = Decimal("0.01")


def serialize_money(value: Decimal) -> str:
    return str(value.quantize(_CENT))


_MONEY_TEXT = re.compile(r"-?[0-9]{1,13}(\.[0-9]{1,2})?")


def _parse_money(value: object) -> Decimal:
    """ASCII digits, at most two decimals: no exponents, underscores or other scripts."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('Money must be a decimal string such as "19.99".')
    text = (repr(value) if isinstance(value, float) else str(value)).strip()
    if not _MONEY_TEXT.fullmatch(text):
        raise ValueError(
            f'Money must be a decimal string such as "19.99" (digits, at most two '
            f"decimal places); got {value!r}."
        )
    return Decimal(text)


Money = NewType("Money", Decimal)

MONEY = strawberry.scalar(
    name="Money",
    description='An exact amount of money as a decimal string with two places, e.g. "19.99".',
    serialize=serialize_money,
    parse_value=_parse_money,
)
