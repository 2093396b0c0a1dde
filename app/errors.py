"""The domain's errors. Each carries a stable code that clients can switch on.

    OrdergraphError            base; never raised itself
    ├── BadInput               BAD_USER_INPUT: the request asks for something malformed;
    │                          the message says which argument and how to fix it
    ├── InvalidInput           a mutation's input breaks rules the caller can fix; becomes
    │                          the payload's `errors: [{field, code, message}]`, not a
    │                          GraphQL error (the shape a form needs)
    ├── Unauthenticated        UNAUTHENTICATED: no valid credentials where some are needed,
    │                          or credentials that are bad (never a silent anonymous)
    ├── Forbidden              FORBIDDEN: signed in, but not allowed to do this
    ├── NotFound               NOT_FOUND: no such object, or not one the caller may see
    ├── Conflict               CONFLICT: the object changed since the caller read it
    │                          (stale expectedVersion); nothing was written
    ├── ServiceUnavailable     SERVICE_UNAVAILABLE: a backing service (PostgreSQL) is down;
    │                          retrying later succeeds without any change to the request
    ├── StatementTimeout       STATEMENT_TIMEOUT: a statement ran past DB_STATEMENT_TIMEOUT_MS
    │                          and PostgreSQL cancelled it; nothing was written, the same
    │                          request will likely take as long again (narrow it)
    ├── TooManyRows            TOO_MANY_ROWS: a document (a PDF report) would hold more rows
    │                          than it may; the message names the limit and the export
    │                          that carries any number of rows
    ├── TryAgain               TRY_AGAIN: the write collided with concurrent ones (deadlock or
    │                          serialization failure) more often than the server retries it;
    │                          nothing was written, sending the same request again is safe
    ├── SlowConsumer           SLOW_CONSUMER: a subscriber fell too far behind and was cut
    │                          off; it resumes with `after` set to its last cursor
    ├── ShuttingDown           SHUTTING_DOWN: this server is stopping (SIGTERM) and ended
    │                          the subscription; resume with `after` on another instance
    ├── LinkRefused            a signed link (app.auth.signed_links) that does not work:
    │   ├── LinkInvalid        LINK_INVALID: tampered with, unreadable, or signed for
    │   │                      another purpose or download
    │   ├── LinkExpired        LINK_EXPIRED: past its expiry; ask for a new one
    │   └── LinkUsed           LINK_USED: single-use, and used already
    └── BackupError            BACKUP_*, RESTORE_*, PG_TOOL_*: `ordergraph backup` or
                               `restore` cannot go on; the code says why (BACKUP_FOREIGN_FILE,
                               BACKUP_CORRUPT, BACKUP_WRONG_KEY, BACKUP_KEY_MISSING,
                               RESTORE_TARGET_NOT_EMPTY, RESTORE_COUNTS_DIFFER,
                               PG_TOOL_MISSING, PG_TOOL_FAILED), the message what to do

Anything else that escapes a resolver is a bug: clients see INTERNAL and a request id,
the log has the stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass


class OrdergraphError(Exception):
    code = "INTERNAL"
    # True where sending the very same request again may succeed (extensions.retryable).
    retryable = False

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class BadInput(OrdergraphError):
    code = "BAD_USER_INPUT"


class Unauthenticated(OrdergraphError):
    code = "UNAUTHENTICATED"


class Forbidden(OrdergraphError):
    code = "FORBIDDEN"


class NotFound(OrdergraphError):
    code = "NOT_FOUND"


class Conflict(OrdergraphError):
    code = "CONFLICT"


class ServiceUnavailable(OrdergraphError):
    code = "SERVICE_UNAVAILABLE"


class StatementTimeout(OrdergraphError):
    code = "STATEMENT_TIMEOUT"


class TooManyRows(OrdergraphError):
    code = "TOO_MANY_ROWS"


class TryAgain(OrdergraphError):
    code = "TRY_AGAIN"
    retryable = True


class SlowConsumer(OrdergraphError):
    code = "SLOW_CONSUMER"


class ShuttingDown(OrdergraphError):
    code = "SHUTTING_DOWN"
    retryable = True


class LinkRefused(OrdergraphError):
    code = "LINK_INVALID"


class LinkInvalid(LinkRefused):
    code = "LINK_INVALID"


class LinkExpired(LinkRefused):
    code = "LINK_EXPIRED"


class LinkUsed(LinkRefused):
    code = "LINK_USED"


class BackupError(OrdergraphError):
    """A backup or restore that cannot go on; `code` names which of the reasons it is."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with a mutation's input, for the form that sent it."""

    field: str
    code: str
    message: str


class InvalidInput(OrdergraphError):
    code = "INVALID_INPUT"

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems

    @classmethod
    def one(cls, field: str, code: str, message: str) -> InvalidInput:
        return cls([FieldProblem(field, code, message)])
