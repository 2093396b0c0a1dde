"""The classes of data retention deletes: one declaration each.

A class names its table, the setting that gives its age in days, which rows are past
that age (`expired`, SQL over the table with `:cutoff`), and which of those it must keep
anyway (`still_needed`). The runner builds every count and batch delete from these, so
a new class (webhook deliveries, say) is one more entry in CLASSES.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.settings import Settings


@dataclass(frozen=True, kw_only=True, slots=True)
class RetentionClass:
    name: str
    table: str
    setting: str  # a Settings field, in days
    expired: str  # rows past their age: SQL over `table`, with :cutoff (and :bound)
    keeps: str  # what it never deletes, in words (README, `retention run`)
    still_needed: str | None = None  # rows to keep even when expired: SQL over `table`
    # SQL run once per run, with :cutoff, whose value the conditions see as :bound.
    bound: str | None = None
    # Deleted through this function (cutoff, batch, run id, actor kind) instead of a
    # plain DELETE: audit_events refuses a plain one.
    purge_function: str | None = None

    def days(self, settings: Settings) -> float:
        value: float = getattr(settings, self.setting)
        return value

    @property
    def variable(self) -> str:
        return self.setting.upper()

    @property
    def keep_clause(self) -> str:
        return f"NOT coalesce(({self.still_needed}), false)" if self.still_needed else "true"


AUDIT = RetentionClass(
    name="audit_events",
    table="audit_events",
    setting="audit_retention_days",
    expired="occurred_at < :cutoff",
    keeps="events younger than AUDIT_RETENTION_DAYS; each purge is itself an audit event",
    purge_function="purge_audit_events",
)

# By position, not by time: a long transaction's event can carry an earlier time than
# events numbered before it, and a replay must never meet a hole in the middle. The
# newest event always stays: it carries the position the next relay numbers from.
EVENTS = RetentionClass(
    name="events",
    table="events",
    setting="events_retention_days",
    expired="position < :bound",
    bound="SELECT coalesce((SELECT min(position) FROM events WHERE occurred_at >= :cutoff), "
    "(SELECT max(position) FROM events), 0)",
    keeps="every event from the first one younger than EVENTS_RETENTION_DAYS on, and the "
    "newest; `after` older than that is refused",
    # Webhooks render each message from its event when they send it: keep every event
    # an endpoint has not queued yet (past its cursor) and every event from the oldest
    # message not delivered yet on. Both are suffixes of the log, so no hole.
    still_needed="position > (SELECT min(cursor) FROM webhooks WHERE state <> 'disabled') "
    "OR position >= (SELECT min(event_position) FROM webhook_deliveries "
    "WHERE status <> 'delivered')",
)

# The invocation log: a delivered or dead-lettered message goes once its last attempt
# is old; a message still waiting to be sent is never deleted.
WEBHOOK_DELIVERIES = RetentionClass(
    name="webhook_deliveries",
    table="webhook_deliveries",
    setting="webhook_deliveries_retention_days",
    expired="status <> 'pending' AND coalesce(delivered_at, last_attempt_at, created_at) < :cutoff",
    keeps="every message not yet delivered; delivered and dead-lettered ones for "
    "WEBHOOK_DELIVERIES_RETENTION_DAYS",
)

IDEMPOTENCY = RetentionClass(
    name="order_requests",
    table="order_requests",
    setting="idempotency_retention_days",
    expired="created_at < :cutoff",
    keeps="keys younger than IDEMPOTENCY_RETENTION_DAYS (the order itself always stays)",
)

TOKENS = RetentionClass(
    name="api_tokens",
    table="api_tokens",
    setting="tokens_retention_days",
    expired="revoked_at < :cutoff OR expires_at < :cutoff",
    keeps="every usable token, and expired or revoked ones for TOKENS_RETENTION_DAYS",
)

# Used signed links (exports, invoices): a nonce stays while its link could still be
# presented, since it is what refuses a second use; once expired, the signature check
# refuses the link anyway.
SIGNED_LINKS = RetentionClass(
    name="signed_link_uses",
    table="signed_link_uses",
    setting="signed_links_retention_days",
    expired="expires_at < :cutoff",
    keeps="used links that have not expired, and expired ones for SIGNED_LINKS_RETENTION_DAYS",
)

# The outbox is no class: the relay deletes each outbox row in the transaction that
# copies it into the event log, so a relayed row never stays behind, and a row still in
# the outbox has not been relayed (retention never touches it).
CLASSES: tuple[RetentionClass, ...] = (
    AUDIT,
    EVENTS,
    IDEMPOTENCY,
    TOKENS,
    SIGNED_LINKS,
    WEBHOOK_DELIVERIES,
)
