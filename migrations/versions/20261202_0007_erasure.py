"""Erasure: a ledger of erased users, and one narrow path that may rewrite audit events.

`erased_users` keeps only the ids of erased users and when (restore re-applies what a
backup does not hold yet, see app/backup/erasures.py). `redact_audit_person` rewrites the
named personal fields (email, name, identity) of the audit events about a list of
entities, and the client address and user agent of those a person made, then records that
it did so as an audit event of its own. The append-only trigger now lets through exactly
two call stacks: a DELETE from purge_audit_events (revision 0006) and an UPDATE from
redact_audit_person, each called directly; everything else is refused as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURGE_SIGNATURE = "purge_audit_events(timestamp with time zone,integer,uuid,text)"
REDACT_SIGNATURE = "redact_audit_person(uuid,uuid[],text[],jsonb,uuid,text)"
REDACTED_SIGNATURE = "audit_redacted_changes(jsonb,text[],jsonb)"
# The only fields the redaction path may rewrite: a person's identifying values.
PERSONAL_FIELDS = ("email", "name", "identity")


def _escaped(name: str) -> str:
    """A function signature as a literal part of a PostgreSQL regular expression."""
    return name.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")


def _called_from(signature: str) -> str:
    # As in 0006: the whole stack is this trigger, one single-line SQL statement, and the
    # function called from the top level. Nothing nested under it passes.
    return (
        r"^PL/pgSQL function audit_events_refuse\(\) line \d+ at GET DIAGNOSTICS\n"
        r'SQL statement "[^\n]*"\n'
        rf"PL/pgSQL function (public\.)?{_escaped(signature)} line \d+ at SQL statement$"
    )


REFUSE = f"""
CREATE OR REPLACE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  stack text;
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    GET DIAGNOSTICS stack = PG_CONTEXT;
    IF TG_OP = 'DELETE' AND stack ~ '{_called_from(PURGE_SIGNATURE)}' THEN
      RETURN NULL;  -- a statement trigger's result is ignored: the statement goes on
    END IF;
    IF TG_OP = 'UPDATE' AND stack ~ '{_called_from(REDACT_SIGNATURE)}' THEN
      RETURN NULL;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$
"""

# 0006's version, for the downgrade.
PURGE_ONLY_REFUSE = f"""
CREATE OR REPLACE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  stack text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    GET DIAGNOSTICS stack = PG_CONTEXT;
    IF stack ~ '{_called_from(PURGE_SIGNATURE)}' THEN
      RETURN NULL;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$
"""

# {field: {before, after}} with the named fields' non-null values replaced.
REDACTED = """
CREATE FUNCTION audit_redacted_changes(changes jsonb, fields text[], replacement jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $$
  SELECT coalesce(jsonb_object_agg(e.key, CASE
      WHEN e.key = ANY(fields) AND jsonb_typeof(e.value) = 'object' THEN jsonb_build_object(
        'before', CASE WHEN coalesce(e.value->'before', 'null') = 'null' THEN 'null'::jsonb
                       ELSE replacement->e.key END,
        'after', CASE WHEN coalesce(e.value->'after', 'null') = 'null' THEN 'null'::jsonb
                      ELSE replacement->e.key END)
      WHEN e.key = ANY(fields) THEN replacement->e.key
      ELSE e.value END), '{}'::jsonb)
  FROM jsonb_each(changes) AS e
$$
"""

# The UPDATE must stay on one line: the trigger matches the statement's text as a single
# line of the call stack.
REDACT = f"""
CREATE FUNCTION redact_audit_person(
  person uuid, entities uuid[], fields text[], replacement jsonb, actor uuid, actor_kind text
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  redacted integer;
BEGIN
  IF person IS NULL OR entities IS NULL OR fields IS NULL THEN
    RAISE EXCEPTION 'redact_audit_person: person, entities and fields are required'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT fields <@ ARRAY{list(PERSONAL_FIELDS)}::text[] THEN
    RAISE EXCEPTION 'redact_audit_person: only {", ".join(PERSONAL_FIELDS)} may be redacted, not %',
      fields USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF replacement IS NULL OR jsonb_typeof(replacement) <> 'object'
     OR NOT replacement ?& fields THEN
    RAISE EXCEPTION 'redact_audit_person: replacement must name a value for each of %', fields
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE audit_events a SET changes = CASE WHEN a.entity_id = ANY(entities) THEN audit_redacted_changes(a.changes, fields, replacement) ELSE a.changes END, client_addr = CASE WHEN a.actor_id = person THEN NULL ELSE a.client_addr END, user_agent = CASE WHEN a.actor_id = person THEN NULL ELSE a.user_agent END WHERE a.entity_id = ANY(entities) OR a.actor_id = person;
  GET DIAGNOSTICS redacted = ROW_COUNT;
  INSERT INTO audit_events (actor_id, actor_kind, action, entity_type, entity_id, changes)
  VALUES (
    actor, actor_kind, 'audit.redacted', 'User', person,
    jsonb_build_object(
      'rows', jsonb_build_object('before', NULL, 'after', redacted),
      'fields', jsonb_build_object('before', NULL, 'after', to_jsonb(fields))
    )
  );
  RETURN redacted;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "erased_users",
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column(
            "erased_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("clock_timestamp()"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_erased_users")),
    )
    op.execute(REDACTED)
    op.execute(REDACT)
    # Only the owner (and whom it grants) may redact; functions are PUBLIC by default.
    op.execute(f"REVOKE EXECUTE ON FUNCTION {REDACT_SIGNATURE} FROM PUBLIC")
    op.execute(REFUSE)


def downgrade() -> None:
    op.execute(PURGE_ONLY_REFUSE)
    op.execute(f"DROP FUNCTION {REDACT_SIGNATURE}")
    op.execute(f"DROP FUNCTION {REDACTED_SIGNATURE}")
    op.drop_table("erased_users")
