"""The domain's errors. Each carries a stable code that clients can switch on.

    OrdergraphError            base; never raised itself
    ├── BadInput               BAD_USER_INPUT: the request asks for something malformed;
    │                          the message says which argument and how to fix it
    ├── NotFound               NOT_FOUND: no such object, or not one the caller may see
    └── ServiceUnavailable     SERVICE_UNAVAILABLE: a backing service (PostgreSQL) is down;
                               retrying later succeeds without any change to the request

Anything else that escapes a resolver is a bug: clients see INTERNAL and a request id,
the log has the stack trace.
"""

from __future__ import annotations


class OrdergraphError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class BadInput(OrdergraphError):
    code = "BAD_USER_INPUT"


class NotFound(OrdergraphError):
    code = "NOT_FOUND"


class ServiceUnavailable(OrdergraphError):
    code = "SERVICE_UNAVAILABLE"
