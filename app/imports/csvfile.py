"""Reading an import file: RFC 4180 CSV in UTF-8, header first, as a stream.

Accepted and handled: a UTF-8 byte-order mark (Excel's "CSV UTF-8" writes one; it is
dropped), CRLF or LF line ends, quoted values with commas, quotes and line breaks in
them (a row's line is the line it starts on), blank lines (skipped), and whitespace
around values (trimmed, as the mutations trim). Refused, with nothing written: a file
that is not UTF-8 (UTF-16 included), an empty file or one with a header only, a header
with unknown, repeated or missing columns, a quoted value that never ends, and a value
over the CSV field limit. A row with too few or too many values, or a NUL character, is
a row error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from app.imports.formats import Entity
from app.imports.rules import Rule, python_check

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
FIELD_LIMIT = csv.field_size_limit()


@dataclass(frozen=True, slots=True)
class RowError:
    """What is wrong on one line (None: the whole file), in one column (None: the row)."""

    line: int | None
    column: str | None
    code: str
    message: str


class BadFile(Exception):
    """The file cannot be imported at all; nothing is written."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors

    @classmethod
    def one(cls, line: int | None, column: str | None, code: str, message: str) -> BadFile:
        return cls([RowError(line, column, code, message)])


class CsvReader:
    """The records of `source` (a binary file), after its header: `header()` first,
    then `batches()`. Python-side row problems collect in `errors`."""

    def __init__(
        self, source: BinaryIO, *, entity: Entity, rules: dict[str, Rule], batch_rows: int
    ) -> None:
        self.source = source
        self.entity = entity
        self.rules = rules
        self.batch_rows = batch_rows
        self.errors: list[RowError] = []
        self.rows = 0
        self.columns: list[str] = []
        self._start = source.tell()
        head = source.read(4)
        if head.startswith(UTF16_BOMS):
            raise BadFile.one(
                1,
                None,
                "INVALID_ENCODING",
                "The file is UTF-16; save it as UTF-8 (in Excel: 'CSV UTF-8').",
            )
        source.seek(self._start + (len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0))
        self._text = io.TextIOWrapper(source, encoding="utf-8", errors="strict", newline="")
        self._nul_lines: set[int] = set()
        self._reader = csv.reader(self._lines(), strict=True)
        self._line = 0  # the physical line the last record ended on

    @property
    def bytes_read(self) -> int:
        return self.source.tell() - self._start

    def _lines(self) -> Iterator[str]:
        for number, line in enumerate(self._text, 1):
            if "\x00" in line:
                self._nul_lines.add(number)
            yield line

    def _next(self) -> tuple[int, list[str]] | None:
        """(the line the record starts on, its values), or None at the end."""
        while True:
            start = self._line + 1
            try:
                values = next(self._reader)
            except StopIteration:
                return None
            except UnicodeDecodeError:
                raise BadFile.one(
                    self._undecodable_line(),
                    None,
                    "INVALID_ENCODING",
                    "The file must be UTF-8 and this line is not; save the file as UTF-8 "
                    "(in Excel: 'CSV UTF-8').",
                ) from None
            except csv.Error as exc:
                text = str(exc)
                if "field limit" in text:
                    raise BadFile.one(
                        start,
                        None,
                        "TOO_LONG",
                        f"A value on this line is over {FIELD_LIMIT} characters.",
                    ) from None
                raise BadFile.one(
                    start,
                    None,
                    "MALFORMED_CSV",
                    f"This line is not valid CSV ({text}); a quoted value must end with a "
                    'quote, and quotes inside it are doubled ("").',
                ) from None
            self._line = self._reader.line_num
            if values:
                return start, values

    def _undecodable_line(self) -> int:
        self.source.seek(self._start)
        for number, raw in enumerate(self.source, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
        return self._line + 1

    def header(self) -> list[str]:
        first = self._next()
        entity = self.entity
        example = ",".join(entity.allowed)
        if first is None:
            raise BadFile.one(
                None,
                None,
                "EMPTY_FILE",
                f"The file is empty; its first line is the header: {example}.",
            )
        line, names = first
        names = [name.strip().lower() for name in names]
        allowed = set(entity.allowed)
        if not allowed & set(names):
            raise BadFile.one(
                line,
                None,
                "MISSING_HEADER",
                f"The first line must be the header naming the columns, e.g. {example}.",
            )
        errors = []
        for name in names:
            if name not in allowed:
                errors.append(
                    RowError(
                        line,
                        name,
                        "UNKNOWN_COLUMN",
                        f"Unknown column {name!r}; the columns are {', '.join(entity.allowed)}.",
                    )
                )
            elif names.count(name) > 1 and name not in {e.column for e in errors}:
                errors.append(
                    RowError(line, name, "DUPLICATE_COLUMN", f"The column {name!r} is repeated.")
                )
        errors += [
            RowError(line, name, "MISSING_COLUMN", f"The column {name!r} is required.")
            for name in entity.required
            if name not in names
        ]
        if errors:
            raise BadFile(errors)
        self.columns = names
        return names

    def batches(self) -> Iterator[list[tuple[object, ...]]]:
        """Records as (line, value per column), trimmed; a value with a problem found
        here is None and its problem is in `errors`."""
        width = len(self.columns)
        python = [(i, self.rules[name]) for i, name in enumerate(self.columns)]
        python = [(i, rule) for i, rule in python if rule.python is not None]
        batch: list[tuple[object, ...]] = []
        while (record := self._next()) is not None:
            line, values = record
            self.rows += 1
            if len(values) != width:
                self.errors.append(
                    RowError(
                        line,
                        None,
                        "WRONG_COLUMN_COUNT",
                        f"This row has {len(values)} values; the header names {width} columns.",
                    )
                )
                continue
            cells: list[str | None] = [value.strip() for value in values]
            if self._nul_lines and any(n in self._nul_lines for n in range(line, self._line + 1)):
                for i, value in enumerate(cells):
                    if value is not None and "\x00" in value:
                        cells[i] = None
                        self.errors.append(
                            RowError(
                                line,
                                self.columns[i],
                                "INVALID",
                                "Text must not contain NUL characters.",
                            )
                        )
            for i, rule in python:
                value = cells[i]
                if value is None:
                    continue
                cells[i], problem = python_check(rule, value)
                if problem is not None:
                    self.errors.append(RowError(line, self.columns[i], *problem))
            batch.append((line, *cells))
            if len(batch) >= self.batch_rows:
                yield batch
                batch = []
        if batch:
            yield batch
        if self.rows == 0:
            raise BadFile.one(
                None, None, "EMPTY_FILE", "The file has a header but no rows to import."
            )

    def detach(self) -> None:
        """Leave `source` open (the TextIOWrapper would close it when collected)."""
        self._text.detach()
