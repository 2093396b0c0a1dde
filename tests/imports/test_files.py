"""Files that cannot be imported as they are, and files that can although they look odd.
Under REJECT_EVERYTHING a refused file writes nothing."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.dbtools import fetch_all, fetch_value
from tests.imports.uploads import upload

HEADER = b"sku,name,price\n"


@pytest.mark.parametrize(
    ("content", "line", "column", "code"),
    [
        (b"", None, None, "EMPTY_FILE"),
        (HEADER, None, None, "EMPTY_FILE"),
        (b"imp-1,Desk,10\nimp-2,Lamp,5\n", 1, None, "MISSING_HEADER"),
        (b"sku,name,price,colour\nimp-1,Desk,10,red\n", 1, "colour", "UNKNOWN_COLUMN"),
        (b"sku,name\nimp-1,Desk\n", 1, "price", "MISSING_COLUMN"),
        (b"sku,name,price,name\nimp-1,Desk,10,Desk\n", 1, "name", "DUPLICATE_COLUMN"),
        (HEADER + b"imp-1,Caf\xe9 table,10\n", 2, None, "INVALID_ENCODING"),
        ("sku,name,price\nimp-1,Desk,10\n".encode("utf-16"), 1, None, "INVALID_ENCODING"),
        (HEADER + b'imp-1,"Desk,10\nimp-2,Lamp,5\n', 2, None, "MALFORMED_CSV"),
        (HEADER + b"imp-1,Desk,10\nIMP-1,Desk again,11\n", 2, "sku", "DUPLICATE_KEY"),
        (HEADER + b"imp-1,Desk,10,extra\n", 2, None, "WRONG_COLUMN_COUNT"),
        (HEADER + b"imp-1," + b"n" * 101 + b",10\n", 2, "name", "TOO_LONG"),
        (HEADER + b"imp-1,De\x00sk,10\n", 2, "name", "INVALID"),
    ],
    ids=[
        "empty",
        "header-only",
        "no-header",
        "unknown-column",
        "missing-column",
        "repeated-column",
        "latin-1",
        "utf-16",
        "unterminated-quote",
        "duplicate-sku",
        "too-many-values",
        "value-too-long",
        "nul",
    ],
)
async def test_a_bad_file_is_refused_with_a_coded_error_and_nothing_written(
    wapi: Api, content: bytes, line: int | None, column: str | None, code: str
) -> None:
    before = await fetch_value(wapi.url, "SELECT count(*) FROM products")
    payload = await upload(wapi, content)
    assert payload["written"] is False
    first = payload["errors"][0]
    assert (first["line"], first["column"], first["code"]) == (line, column, code)
    assert first["message"]
    assert await fetch_value(wapi.url, "SELECT count(*) FROM products") == before


async def test_duplicate_keys_fail_on_every_line_that_has_them(wapi: Api) -> None:
    payload = await upload(
        wapi,
        HEADER + b"imp-1,Desk,10\nimp-2,Lamp,5\nIMP-1,Desk again,11\n",
        policy="REJECT_FAILED_ROWS",
    )
    assert payload["created"] == 1
    assert [(e["line"], e["code"]) for e in payload["errors"]] == [
        (2, "DUPLICATE_KEY"),
        (4, "DUPLICATE_KEY"),
    ]
    assert "lines 2, 4" in payload["errors"][0]["message"]


async def products(api: Api) -> list[tuple[object, ...]]:
    rows = await fetch_all(
        api.url,
        "SELECT sku, name, description FROM products WHERE sku LIKE 'IMP-%' ORDER BY sku",
    )
    return [tuple(r) for r in rows]


async def test_a_utf8_byte_order_mark_from_excel_is_accepted_and_dropped(wapi: Api) -> None:
    payload = await upload(wapi, b"\xef\xbb\xbfsku,name,price\nimp-1,Caf\xc3\xa9 table,10\n")
    assert (payload["created"], payload["errors"]) == (1, [])
    assert await products(wapi) == [("IMP-1", "Café table", "")]


async def test_crlf_line_ends_are_accepted(wapi: Api) -> None:
    payload = await upload(wapi, b"sku,name,price\r\nimp-1,Desk,10\r\nimp-2,Lamp,5\r\n")
    assert payload["created"] == 2
    assert await products(wapi) == [("IMP-1", "Desk", ""), ("IMP-2", "Lamp", "")]


async def test_quoted_line_breaks_stay_in_the_value_and_lines_count_from_the_file(
    wapi: Api,
) -> None:
    payload = await upload(
        wapi,
        b'sku,name,description,price\nimp-1,Desk,"Oak,\r\n""solid"",\nwaxed",10\nimp-2,Lamp,,-5\n',
        policy="REJECT_FAILED_ROWS",
    )
    assert payload["created"] == 1
    # The first row spans lines 2 to 4, so the bad one is on line 5.
    assert [(e["line"], e["column"], e["code"]) for e in payload["errors"]] == [
        (5, "price", "TOO_SMALL")
    ]
    assert await products(wapi) == [("IMP-1", "Desk", 'Oak,\r\n"solid",\nwaxed')]


async def test_blank_lines_and_spaces_around_values_are_ignored(wapi: Api) -> None:
    payload = await upload(wapi, b" SKU , Name ,price\n\n imp-1 ,  Desk ,10 \n\n")
    assert payload["created"] == 1
    assert await products(wapi) == [("IMP-1", "Desk", "")]
