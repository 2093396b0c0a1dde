"""Retention: one narrow path that may delete old audit events, and an index to find old
idempotency records.

audit_events stays append-only: its triggers still refuse every UPDATE, DELETE and
TRUNCATE, except a DELETE issued by purge_audit_events itself, called directly. That
function deletes only rows older than a cutoff in the past, a bounded batch at a time,
and records what it deleted as an audit event in the same transaction.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURGE_SIGNATURE = "purge_audit_events(timestamp with time zone,integer,uuid,text)"


def _escaped(name: str) -> str:
    """A function signature as a literal part of a PostgreSQL regular expression."""
    return name.replace("(", r"\(").replace(")", r"\)")


# The trigger reads the PL/pgSQL call stack (DO blocks and other functions show in it
# too). A DELETE passes only when the whole stack is exactly: this trigger, one
# single-line SQL statement, purge_audit_events called from the top level. Nothing
# nested under it passes, the purge called from another function does not either, and
# no session setting opens the door for an ordinary DELETE.
CALLED_FROM_PURGE = (
    r"^PL/pgSQL function audit_events_refuse\(\) line \d+ at GET DIAGNOSTICS\n"
    r'SQL statement "[^\n]*"\n'
    rf"PL/pgSQL function (public\.)?{_escaped(PURGE_SIGNATURE)} line \d+ at SQL statement$"
)

REFUSE = f"""
CREATE OR REPLACE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  stack text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    GET DIAGNOSTICS stack = PG_CONTEXT;
    IF stack ~ '{CALLED_FROM_PURGE}' THEN
      RETURN NULL;  -- a statement trigger's result is ignored: the statement goes on
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$
"""

ORIGINAL_REFUSE = """
CREATE OR REPLACE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$
"""

# The DELETE must stay on one line: the trigger above matches the statement's text as a
# single line of the call stack.
PURGE = """
CREATE FUNCTION purge_audit_events(
  before timestamptz, batch integer, run_id uuid, actor_kind text
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  deleted integer;
BEGIN
  IF before IS NULL OR before > now() THEN
    RAISE EXCEPTION 'purge_audit_events: the cutoff must be in the past, not %', before
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF batch IS NULL OR batch < 1 OR batch > 100000 THEN
    RAISE EXCEPTION 'purge_audit_events: batch must be between 1 and 100000, not %', batch
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  DELETE FROM audit_events WHERE ctid = ANY(ARRAY(SELECT a.ctid FROM audit_events a WHERE a.occurred_at < before ORDER BY a.occurred_at LIMIT batch));
  GET DIAGNOSTICS deleted = ROW_COUNT;
  IF deleted > 0 THEN
    INSERT INTO audit_events (actor_kind, action, entity_type, entity_id, changes)
    VALUES (
      actor_kind, 'audit.purged', 'RetentionRun', run_id,
      jsonb_build_object(
        'deleted', jsonb_build_object('before', NULL, 'after', deleted),
        'olderThan', jsonb_build_object('before', NULL, 'after', before)
      )
    );
  END IF;
  RETURN deleted;
END $$
"""


# Checked once per statement rather than per row: the call-stack check costs tens of
# microseconds, which per row made a purge batch of 5,000 forty times slower. A
# statement trigger refuses just as well, even a statement that matches no row.
PER_STATEMENT = (
    "DROP TRIGGER audit_events_append_only ON audit_events",
    """
    CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse()
    """,
)
PER_ROW = (
    "DROP TRIGGER audit_events_append_only ON audit_events",
    """
    CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()
    """,
)


def upgrade() -> None:
    op.execute(REFUSE)
    for statement in PER_STATEMENT:
        op.execute(statement)
    op.execute(PURGE)
    # Only the owner (and whom it grants) may purge; functions are PUBLIC by default.
    op.execute(f"REVOKE EXECUTE ON FUNCTION {PURGE_SIGNATURE} FROM PUBLIC")
    op.create_index("ix_order_requests_created_at", "order_requests", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_order_requests_created_at", table_name="order_requests")
    op.execute(f"DROP FUNCTION {PURGE_SIGNATURE}")
    for statement in PER_ROW:
        op.execute(statement)
    op.execute(ORIGINAL_REFUSE)
