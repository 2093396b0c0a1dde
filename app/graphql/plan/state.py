"""What one run of a plan has read, and the failure that hands a request back."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.graphql.context import Context
from app.queries.orders import OrderItemRecord
from app.queries.products import ProductRecord


class Fallback(Exception):
    """This request takes the executor: an argument a rule refuses (before anything was
    read), or data the plan cannot write. The executor gives the answer and errors."""


@dataclass(slots=True)
class State:
    context: Context
    variables: Any  # graphql-core's coerced VariableValues
    # Per planned selection (by id): what its arguments came to in `prepare`.
    prepared: dict[int, Any] = field(default_factory=dict)
    # Root selection id -> its value; (selection id, parent id) -> a nested connection.
    values: dict[Any, Any] = field(default_factory=dict)
    # id(connection) -> its totalCount, for connections whose count is selected.
    counts: dict[int, int] = field(default_factory=dict)
    items: dict[uuid.UUID, list[OrderItemRecord]] = field(default_factory=dict)
    products: dict[uuid.UUID, ProductRecord] = field(default_factory=dict)
    # Objects written once and shared by many parents: (level id, primary key) -> dict.
    written: dict[tuple[int, uuid.UUID], Any] = field(default_factory=dict)


Writer = Callable[[Any, State], Any]
Prepare = Callable[[State], None]
Fetch = Callable[[list[Any], State], Awaitable[None]]
