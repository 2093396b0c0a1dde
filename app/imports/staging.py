"""The staging tables of one import: the file's rows as text, and the problems found.

Both are temporary (dropped when the transaction ends) and named per import. The rows
arrive by COPY; the checks then run as a few set-based statements over them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy.dialects import postgresql

from app.imports.csvfile import RowError
from app.imports.formats import Entity, ImportMode
from app.imports.rules import Rule, literal

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_type(entity: Entity, name: str) -> str:
    return str(entity.table.c[name].type.compile(dialect=_DIALECT))


class Staging:
    """`rows` (line, one text column per file column) and `errors` (line, pos, col,
    code, message) for one import on the asyncpg connection `raw`."""

    def __init__(self, raw: Any, *, entity: Entity, columns: list[str], rules: dict[str, Rule]):
        self.raw = raw
        self.entity = entity
        self.columns = columns
        self.rules = rules
        suffix = secrets.token_hex(6)
        # Per import: asyncpg keeps prepared statements per text, and a statement that
        # named a table dropped since would fail.
        self.rows = f"import_rows_{suffix}"
        self.errors = f"import_errors_{suffix}"
        self.matched = f"import_matched_{suffix}"

    def position(self, column: str | None) -> int:
        return self.columns.index(column) + 1 if column in self.columns else 0

    async def create(self) -> None:
        texts = ", ".join(f"{quoted(name)} text" for name in self.columns)
        await self.raw.execute(
            f"CREATE TEMPORARY TABLE {self.rows} (line integer NOT NULL, {texts}) "
            f"ON COMMIT DROP; "
            f"CREATE TEMPORARY TABLE {self.errors} (line integer, pos integer NOT NULL, "
            f"col text, code text NOT NULL, message text NOT NULL) ON COMMIT DROP"
        )

    async def copy_rows(self, records: list[tuple[object, ...]]) -> None:
        await self.raw.copy_records_to_table(
            self.rows, records=records, columns=["line", *self.columns]
        )

    async def add_errors(self, errors: Iterable[RowError]) -> None:
        records = [(e.line, self.position(e.column), e.column, e.code, e.message) for e in errors]
        if records:
            await self.raw.copy_records_to_table(
                self.errors, records=records, columns=["line", "pos", "col", "code", "message"]
            )

    def typed(self, name: str, alias: str = "s") -> str:
        """The staged text of `name` as the table stores it."""
        expr = self.rules[name].typed(f"{alias}.{quoted(name)}")
        return f"CAST({expr} AS {column_type(self.entity, name)})"

    async def check(self, *, mode: ImportMode) -> None:
        """Every rule over every row, in one scan; then keys repeated in the file and,
        to insert, keys the table already has."""
        await self.raw.execute(f"CREATE INDEX ON {self.rows} (line); ANALYZE {self.rows}")
        checked = [name for name in self.columns if self.rules[name].python is None]
        if checked:
            # Each row's problems as one array, one CASE per column; only rows with a
            # problem are unnested (a LATERAL VALUES per row costs twice as much).
            problems = ", ".join(self.rules[name].check(f"s.{quoted(name)}") for name in checked)
            columns = ", ".join(literal(name) for name in checked)
            positions = ", ".join(str(self.position(name)) for name in checked)
            await self.raw.execute(
                f"INSERT INTO {self.errors} (line, pos, col, code, message) "
                f"SELECT b.line, c.pos, c.col, split_part(c.problem, '|', 1), "
                f"substr(c.problem, strpos(c.problem, '|') + 1) "
                f"FROM (SELECT s.line, ARRAY[{problems}]::text[] AS problems "
                f"FROM {self.rows} s OFFSET 0) b "
                f"CROSS JOIN LATERAL unnest(b.problems, ARRAY[{positions}], "
                f"ARRAY[{columns}]::text[]) AS c(problem, pos, col) "
                f"WHERE num_nulls(VARIADIC b.problems) < {len(checked)} "
                f"AND c.problem IS NOT NULL"
            )
        key = self.entity.key
        key_col, pos = quoted(key), self.position(key)
        # Rows whose key is itself wrong are left out: that problem is reported already.
        keyed = (
            f"SELECT s.line, {self.typed(key)} AS k FROM {self.rows} s "
            f"WHERE s.{key_col} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {self.errors} e WHERE e.line = s.line AND e.col = {literal(key)})"
        )
        await self.raw.execute(
            f"WITH keyed AS ({keyed}), "
            f"dup AS (SELECT k, array_agg(line ORDER BY line) AS lines FROM keyed "
            f"GROUP BY k HAVING count(*) > 1) "
            f"INSERT INTO {self.errors} (line, pos, col, code, message) "
            f"SELECT unnest(lines), {pos}, {literal(key)}, 'DUPLICATE_KEY', "
            f"'The {key} ' || k || ' is on lines ' || array_to_string(lines[1:10], ', ') "
            f"|| CASE WHEN cardinality(lines) > 10 THEN ', ...' ELSE '' END "
            f"|| '; give each {key} once.' FROM dup"
        )
        if mode is ImportMode.INSERT:
            _, code, message = self.entity.key_taken
            table = self.entity.table.name
            await self.raw.execute(
                f"WITH keyed AS ({keyed}) "
                f"INSERT INTO {self.errors} (line, pos, col, code, message) "
                f"SELECT keyed.line, {pos}, {literal(key)}, {literal(code)}, "
                f"{literal(message + ' Use --mode upsert (mode: UPSERT) to update it.')} "
                f"FROM keyed JOIN {table} t ON t.{key_col} = keyed.k"
            )
        await self.raw.execute(f"CREATE INDEX ON {self.errors} (line); ANALYZE {self.errors}")

    async def match(self) -> None:
        """To upsert: `matched` (line, id, same) for each good line whose key the table
        has, `same` when the line leaves that row as it is. One join over the whole
        file, instead of one per merge batch."""
        entity = self.entity
        key = quoted(entity.key)
        updated = [name for name in self.columns if name != entity.key]
        mine = ", ".join(f"t.{quoted(n)}" for n in updated)
        theirs = ", ".join(self.typed(n) for n in updated)
        same = f"ROW({mine}) IS NOT DISTINCT FROM ROW({theirs})" if updated else "true"
        await self.raw.execute(
            f"CREATE TEMPORARY TABLE {self.matched} ON COMMIT DROP AS "
            f"SELECT s.line, t.id, {same} AS same FROM {self.rows} s "
            f"JOIN {entity.table.name} t ON t.{key} = {self.typed(entity.key)} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.errors} e WHERE e.line = s.line); "
            f"CREATE INDEX ON {self.matched} (line); ANALYZE {self.matched}"
        )

    async def failed(self) -> int:
        count: int = await self.raw.fetchval(
            f"SELECT count(DISTINCT coalesce(line, 0)) FROM {self.errors}"
        )
        return count

    async def listed(self, limit: int) -> list[RowError]:
        rows = await self.raw.fetch(
            f"SELECT line, col, code, message FROM {self.errors} "
            f"ORDER BY line NULLS FIRST, pos LIMIT {int(limit)}"
        )
        return [RowError(r["line"], r["col"], r["code"], r["message"]) for r in rows]

    async def last_line(self) -> int:
        line: int | None = await self.raw.fetchval(f"SELECT max(line) FROM {self.rows}")
        return line or 0
