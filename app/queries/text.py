"""Checks on text and numbers from clients, before they reach PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from app.errors import BadInput

# The largest amount any money column holds (orders.total is numeric(12,2)).
MONEY_LIMIT = Decimal("10000000000")


def checked_text(value: str, *, field: str, max_length: int) -> str:
    """Text PostgreSQL can store and compare: no NUL, valid Unicode, bounded length."""
    if len(value) > max_length:
        raise BadInput(f"`{field}` is limited to {max_length} characters.", field=field)
    if "\x00" in value:
        raise BadInput(f"`{field}` must not contain NUL characters.", field=field)
    try:
        value.encode()
    except UnicodeEncodeError:
        raise BadInput(f"`{field}` is not valid Unicode text.", field=field) from None
    return value


def checked_time(value: datetime, *, field: str) -> datetime:
    """A zoned time that exists in UTC too (year 1 at +05:00 does not)."""
    if value.tzinfo is None:
        raise BadInput(f"`{field}` needs a time zone, e.g. 2026-01-31T00:00:00Z.", field=field)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadInput(f"`{field}` is out of range.", field=field) from None


def checked_money(value: Decimal, *, field: str) -> Decimal:
    if not value.is_finite() or abs(value) >= MONEY_LIMIT:
        raise BadInput(f"`{field}` must be below {MONEY_LIMIT}.", field=field)
    return value
