"""The GraphQL operation the current task works for, if any.

Set by the Observe extension around an operation; loader batches are tasks started
inside it and copy it, and SQLAlchemy hands it to the greenlet that runs the cursor, so a
statement's listener knows whose statement it is.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class OperationScope:
    name: str | None
    statements: int = 0


CURRENT: ContextVar[OperationScope | None] = ContextVar("ordergraph_operation", default=None)


def operation_name() -> str | None:
    scope = CURRENT.get()
    return scope.name if scope is not None else None
