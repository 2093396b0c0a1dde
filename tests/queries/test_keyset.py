"""Cursors and windows, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.errors import BadInput
from app.queries.keyset import CursorCodec, Ordering, Position, SortKey, Window, to_page

CREATED = Ordering(SortKey("CREATED_AT", "created_at", datetime), descending=True)
PRICE = Ordering(SortKey("PRICE", "price", Decimal), descending=False)
NAME = Ordering(SortKey("NAME", "name", str), descending=False)


@pytest.mark.parametrize(
    ("ordering", "value"),
    [
        (CREATED, datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)),
        (PRICE, Decimal("12.30")),
        (NAME, 'Zoë "quoted" , comma'),
    ],
)
def test_cursor_round_trips_value_and_id(ordering: Ordering, value: object) -> None:
    codec = CursorCodec("Product", ordering)
    row_id = uuid.uuid4()
    position = codec.decode(codec.encode(value, row_id), argument="after")
    assert position.value == value
    assert position.id == row_id


def test_cursor_is_opaque() -> None:
    cursor = CursorCodec("User", NAME).encode("alice", uuid.uuid4())
    assert "alice" not in cursor
    assert cursor.isascii()


def test_cursor_refuses_another_entity() -> None:
    cursor = CursorCodec("User", NAME).encode("alice", uuid.uuid4())
    with pytest.raises(BadInput, match="another connection"):
        CursorCodec("Product", NAME).decode(cursor, argument="after")


def test_cursor_refuses_another_direction() -> None:
    cursor = CursorCodec("User", NAME).encode("alice", uuid.uuid4())
    descending = Ordering(NAME.key, descending=True)
    with pytest.raises(BadInput, match="NAME:ASC"):
        CursorCodec("User", descending).decode(cursor, argument="before")


def test_naive_timestamp_in_a_cursor_is_damaged() -> None:
    codec = CursorCodec("Order", CREATED)
    cursor = codec.encode(datetime(2026, 1, 1), uuid.uuid4())
    with pytest.raises(BadInput, match="damaged"):
        codec.decode(cursor, argument="after")


def test_forward_page_trims_the_look_ahead_row() -> None:
    page = to_page([1, 2, 3, 4], Window(NAME, size=3))
    assert page.rows == [1, 2, 3]
    assert page.has_next is True
    assert page.has_previous is False


def test_backward_page_is_turned_round() -> None:
    page = to_page([9, 8, 7], Window(NAME, size=2, backward=True))
    assert page.rows == [8, 9]
    assert page.has_previous is True
    assert page.has_next is False


POSITION = Position("m", uuid.UUID(int=1))


def test_forward_page_with_before_has_a_next_page() -> None:
    page = to_page([1, 2], Window(NAME, size=3, before=POSITION))
    assert page.has_next is True
    assert page.has_previous is False


def test_backward_page_with_after_has_a_previous_page() -> None:
    page = to_page([2, 1], Window(NAME, size=3, backward=True, after=POSITION))
    assert page.rows == [1, 2]
    assert page.has_previous is True
    assert page.has_next is False
