"""How an export is written, and the registry of (kind, format) -> writer.

Every kind gets CSV, NDJSON and JSON; orders also PDF. A writer is one of two sorts:

- `Writer` streams: `render(kind, batches)` gets the kind (its `fields`) and an async
  iterator of batches, each a list of rows of API values in `kind.fields` order, and
  yields the bytes to send, as the client takes them.
- `Document` is written whole (a PDF report): `load(conn, viewer=, where=, ordering=,
  max_rows=)` reads all it prints in one snapshot, refusing more than `max_rows` rows
  with TooManyRows before it reads any, and `draw(loaded)` makes the bytes (run in a
  thread, off the event loop, after the connection went back to the pool).

Another plugs in with `register(kind, writer)`.

CSV (RFC 4180): UTF-8, a header row of the field names, CRLF line ends, every text cell
in double quotes (inner quotes doubled, so commas and line breaks inside values are
safe), numbers bare; money as decimal text with two places, times ISO-8601 with their
zone. A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is
prefixed with `'` (OWASP's CSV-injection advice), so a spreadsheet shows it as text
instead of running it as a formula; numbers are never changed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.viewer import Viewer
from app.exports.kinds import KINDS, Kind
from app.exports.pdf.report import draw_report, load_orders_report
from app.queries.keyset import Ordering
from app.settings import Settings

Batches = AsyncGenerator[list[list[Any]], None]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Loaded = TypeVar("Loaded")
Loaded_co = TypeVar("Loaded_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Writer:
    """A streamed format."""

    format: str
    media_type: str
    render: Callable[[Kind, Batches], AsyncGenerator[bytes, None]]


class Load(Protocol[Loaded_co]):
    async def __call__(
        self,
        conn: AsyncConnection,
        /,
        *,
        viewer: Viewer,
        where: Any,
        ordering: Ordering,
        max_rows: int,
    ) -> Loaded_co: ...


@dataclass(frozen=True, slots=True)
class Document(Generic[Loaded]):
    """A format written whole, from at most `max_rows(settings)` rows."""

    format: str
    media_type: str
    load: Load[Loaded]
    draw: Callable[[Loaded], bytes]
    max_rows: Callable[[Settings], int]


def neutralised(cell: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made plain text."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


async def write_csv(kind: Kind, batches: Batches) -> AsyncGenerator[bytes, None]:
    buffer = io.StringIO()
    # QUOTE_NONNUMERIC: text in quotes, ints and Decimals (money) bare.
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(kind.headers)
    yield _drain(buffer)
    async for rows in batches:
        writer.writerows([[neutralised(cell) for cell in row] for row in rows])
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def _shaper(kind: Kind) -> Callable[[list[Any]], dict[str, Any]]:
    """Rows into objects of the GraphQL type's shape: `user.id` becomes {"user": {"id"}}."""
    paths = [tuple(field.name.split(".", 1)) for field in kind.fields]

    def shape(row: list[Any]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for path, value in zip(paths, row, strict=True):
            if len(path) == 1:
                record[path[0]] = value
            else:
                record.setdefault(path[0], {})[path[1]] = value
        return record

    return shape


def _money(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # already two places (kinds.money), as the Money scalar shows it
    raise TypeError(type(value).__name__)


def _json(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, default=_money)


async def write_ndjson(kind: Kind, batches: Batches) -> AsyncGenerator[bytes, None]:
    shape = _shaper(kind)
    async for rows in batches:
        if rows:
            yield b"".join(_json(shape(row)) + b"\n" for row in rows)


async def write_json(kind: Kind, batches: Batches) -> AsyncGenerator[bytes, None]:
    shape = _shaper(kind)
    separator = b"["
    async for rows in batches:
        if rows:
            yield separator + b",".join(_json(shape(row)) for row in rows)
            separator = b","
    yield b"]" if separator == b"," else b"[]"


WRITERS: dict[tuple[str, str], Writer | Document[Any]] = {}


def register(kind: str, writer: Writer | Document[Any]) -> None:
    """Serve `/export/<kind>.<writer.format>` with `writer`."""
    if kind not in KINDS:
        raise ValueError(f"no export kind {kind!r}")
    WRITERS[(kind, writer.format)] = writer


def writer_for(kind: str, format: str) -> Writer | Document[Any] | None:
    return WRITERS.get((kind, format))


def formats_of(kind: str) -> list[str]:
    """The formats `kind` is exported in, in the order they were registered."""
    return [format for name, format in WRITERS if name == kind]


def _pdf_max_rows(settings: Settings) -> int:
    return settings.pdf_max_rows


for _kind in KINDS:
    register(_kind, Writer("csv", "text/csv; charset=utf-8", write_csv))
    register(_kind, Writer("ndjson", "application/x-ndjson", write_ndjson))
    register(_kind, Writer("json", "application/json", write_json))
register(
    "orders",
    Document("pdf", "application/pdf", load_orders_report, draw_report, _pdf_max_rows),
)
