"""The write: one statement per batch of staged lines, with its audit records and events.

Each statement inserts (or, to upsert, inserts or updates) the batch's good rows and, in
the same statement, writes one audit record and one outbox event per row it changed,
shaped exactly as services.products / services.users write them for a single mutation:
the audit `changes` are services.audit.diff's {field: {before, after}} over the
service's FIELDS, and the event data is the record's columns as services.outbox stores
them (decimals as strings). A row whose values are those stored already is unchanged:
not written, not audited, no event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Enum as SAEnum
from sqlalchemy import Numeric

from app.imports.formats import Entity, ImportMode
from app.imports.rules import literal
from app.imports.staging import Staging, quoted
from app.services.audit import Actor


@dataclass(slots=True)
class BatchResult:
    good: int = 0
    created: int = 0
    updated: int = 0
    first_created: uuid.UUID | None = None
    # Per updated row: its id and changed fields (for cache tags).
    updated_rows: list[tuple[uuid.UUID, list[str]]] = field(default_factory=list)
    lost_lines: list[int] = field(default_factory=list)  # insert: a key taken meanwhile


def _json(entity: Entity, name: str, alias: str) -> str:
    """to_jsonb of a column as services.audit.plain has it: decimals and enums as text."""
    column = entity.table.c[name]
    ref = f"{alias}.{quoted(name)}" if alias else quoted(name)
    if isinstance(column.type, Numeric | SAEnum):
        ref = f"({ref})::text"
    return f"to_jsonb({ref})"


def _value(entity: Entity, name: str, alias: str) -> str:
    """A column as services.audit.plain has it, for to_jsonb of a record: decimals and
    enums as text."""
    column = entity.table.c[name]
    ref = f"{alias}.{quoted(name)}"
    return f"({ref})::text" if isinstance(column.type, Numeric | SAEnum) else ref


def _record_json(pairs: list[tuple[str, str]]) -> str:
    """A JSON object of (key, SQL value) pairs, as to_jsonb of a row: several times faster
    than jsonb_build_object, which looks up each argument's type on every call."""
    fields = ", ".join(f"{value} AS {quoted(key)}" for key, value in pairs)
    return f"(SELECT to_jsonb(r) FROM (SELECT {fields}) r)"


def _created_changes(entity: Entity, alias: str) -> str:
    """services.audit.diff(None, row): {field: {before: null, after}} for each field that
    is not null."""
    pairs = [
        (f, f"(SELECT x FROM (SELECT NULL AS before, {_value(entity, f, alias)} AS after) x)")
        for f in entity.fields
    ]
    nullable = [f for f in entity.fields if entity.table.c[f].nullable]
    if not nullable:
        return _record_json(pairs)
    nulls = ", ".join(
        f"CASE WHEN {alias}.{quoted(f)} IS NULL THEN {literal(f)} END" for f in nullable
    )
    return f"({_record_json(pairs)} - array_remove(ARRAY[{nulls}]::text[], NULL))"


def merge_statement(staging: Staging, *, mode: ImportMode) -> str:
    """The statement for lines $1 <= line < $2; $3..$7 are the actor's id, kind, request
    id, address and user agent."""
    entity = staging.entity
    table, key = entity.table.name, quoted(entity.key)
    columns = staging.columns
    record_columns = [c.name for c in entity.columns]
    good = ", ".join(f"{staging.typed(name)} AS {quoted(name)}" for name in columns)
    inserted = [*map(quoted, columns), *entity.insert_extra]
    values = [*map(quoted, columns), *entity.insert_extra.values()]
    returning = ", ".join(f"t.{quoted(name)}" for name in record_columns)
    olds = ", ".join(f"b.{quoted(f)} AS {quoted('old_' + f)}" for f in entity.fields)
    if mode is ImportMode.UPSERT:
        updated = [name for name in columns if name != entity.key]
        sets = ", ".join(f"{quoted(n)} = excluded.{quoted(n)}" for n in updated)
        mine = ", ".join(f"t.{quoted(n)}" for n in updated)
        theirs = ", ".join(f"excluded.{quoted(n)}" for n in updated)
        conflict = (
            f"ON CONFLICT ({key}) DO UPDATE SET {sets}, version = t.version + 1, "
            f"updated_at = now() WHERE ROW({mine}) IS DISTINCT FROM ROW({theirs})"
        )
        # A line that leaves its row as it is (Staging.match) is not written: it never
        # reaches ON CONFLICT, which would lock the row. The rows it changes were locked
        # by lock_statement, so this snapshot is what gets updated: `before` is right.
        before = (
            f"fresh AS (SELECT g.* FROM good g WHERE NOT EXISTS (SELECT 1 FROM "
            f"{staging.matched} m WHERE m.line = g.line AND m.same)), "
            f"before AS (SELECT t.* FROM {table} t WHERE t.id IN (SELECT m.id FROM "
            f"{staging.matched} m WHERE m.line >= $1 AND m.line < $2 AND NOT m.same)), "
        )
        source = "fresh"
        joined = "LEFT JOIN before b ON b.id = w.id"
    else:
        conflict = f"ON CONFLICT ({key}) DO NOTHING"
        before = ""
        joined = f"LEFT JOIN {table} b ON false"
        source = "good"
    diffs = ", ".join(
        f"({literal(f)}, {_old_json(entity, f)}, {_json(entity, f, 'c')})" for f in entity.fields
    )
    diff = (
        f"(SELECT coalesce(jsonb_object_agg(v.f, jsonb_build_object('before', v.b, "
        f"'after', v.a)), '{{}}'::jsonb) FROM (VALUES {diffs}) AS v(f, b, a) "
        f"WHERE v.b IS DISTINCT FROM v.a)"
    )
    changes = f"CASE WHEN c.created THEN {_created_changes(entity, 'c')} ELSE {diff} END"
    changed_names = [
        f"CASE WHEN {quoted('old_' + f)} IS DISTINCT FROM {quoted(f)} THEN {literal(f)} END"
        for f in entity.fields
    ]
    fields = (
        f"CASE WHEN created THEN '{{}}'::text[] ELSE "
        f"array_remove(ARRAY[{', '.join([*changed_names, *entity.extra_changed])}]::text[], "
        f"NULL) END"
    )
    data = _record_json([(n, _value(entity, n, "c")) for n in record_columns])
    topic = literal(entity.topic)
    lost = (
        f", (SELECT array_agg(g.line) FROM good g WHERE NOT EXISTS "
        f"(SELECT 1 FROM written w WHERE w.{key} = g.{key})) AS lost"
        if mode is ImportMode.INSERT
        else ", NULL::integer[] AS lost"
    )
    return (
        f"WITH good AS (SELECT s.line, {good} FROM {staging.rows} s "
        f"WHERE s.line >= $1 AND s.line < $2 AND NOT EXISTS "
        f"(SELECT 1 FROM {staging.errors} e WHERE e.line = s.line)), "
        f"{before}"
        f"written AS (INSERT INTO {table} AS t ({', '.join(inserted)}) "
        f"SELECT {', '.join(values)} FROM {source} {conflict} "
        f"RETURNING {returning}, (t.xmax = 0) AS created), "
        f"changed AS (SELECT w.*, {olds} FROM written w {joined}), "
        f"changes AS (SELECT c.*, {fields} AS fields FROM changed c), "
        f"audit AS (INSERT INTO audit_events (actor_id, actor_kind, action, entity_type, "
        f"entity_id, changes, request_id, client_addr, user_agent) "
        f"SELECT $3::uuid, $4::text, CASE WHEN c.created THEN {literal(entity.created_action)} "
        f"ELSE {literal(entity.updated_action)} END, {literal(entity.topic.capitalize())}, "
        f"c.id, {changes}, $5::text, $6::text, $7::text FROM changed c), "
        f"events AS (INSERT INTO outbox (topic, type, entity_id, owner_id, changed_fields, "
        f"data) SELECT {topic}, CASE WHEN c.created THEN 'CREATED' ELSE 'UPDATED' END, c.id, "
        f"{'c.id' if entity.owned else 'NULL::uuid'}, c.fields, "
        f"{data} FROM changes c) "
        f"SELECT (SELECT count(*) FROM good) AS good, "
        f"count(*) FILTER (WHERE created) AS created, "
        f"count(*) FILTER (WHERE NOT created) AS updated, "
        f"(array_agg(id) FILTER (WHERE created))[1] AS first_created, "
        f"array_agg(id) FILTER (WHERE NOT created) AS updated_ids, "
        f"array_agg(array_to_string(fields, ',')) FILTER (WHERE NOT created) AS updated_fields"
        f"{lost} FROM changes"
    )


def lock_statement(staging: Staging) -> str:
    """Lock the rows that lines $1 <= line < $2 change, in id order (as placeOrder locks
    products), before the merge reads them: what it audits as `before` is then what it
    updates. The rows the file leaves as they are (Staging.match) are not locked: their
    import is a no-op that read them, as if it had run before any later writer."""
    return (
        f"SELECT t.id FROM {staging.entity.table.name} t WHERE t.id IN (SELECT m.id FROM "
        f"{staging.matched} m WHERE m.line >= $1 AND m.line < $2 AND NOT m.same) "
        f"ORDER BY t.id FOR UPDATE"
    )


def _old_json(entity: Entity, name: str) -> str:
    return _json(entity, name, "c").replace(f"c.{quoted(name)}", f"c.{quoted('old_' + name)}")


async def merge_batch(
    staging: Staging, statement: str, lock: str | None, *, actor: Actor, lines: tuple[int, int]
) -> BatchResult:
    if lock is not None:
        await staging.raw.execute(lock, *lines)
    row: Any = await staging.raw.fetchrow(
        statement,
        lines[0],
        lines[1],
        actor.user_id,
        actor.kind,
        actor.meta.request_id,
        actor.meta.client_addr,
        actor.meta.user_agent,
    )
    updated_ids = row["updated_ids"] or []
    updated_fields = row["updated_fields"] or []
    return BatchResult(
        good=row["good"],
        created=row["created"],
        updated=row["updated"],
        first_created=row["first_created"],
        updated_rows=[
            (entity_id, names.split(",") if names else [])
            for entity_id, names in zip(updated_ids, updated_fields, strict=True)
        ],
        lost_lines=list(row["lost"] or []),
    )
