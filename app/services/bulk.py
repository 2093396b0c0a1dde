"""What every bulk write shares: error policies, the item limit, per-item problems.

A bulk write checks every item with the same rule functions the single mutations use
(they raise the domain's errors; here each one becomes that item's problem), then writes
the items still standing in a few set-based statements, whatever their number:

- `REJECT_EVERYTHING`: one problem anywhere and nothing is written;
- `REJECT_FAILED_ROWS`: the good items are written, every problem is reported;
- `IGNORE_FAILED`: the good items are written, the failed ones only counted.

An id sent twice in one call is a problem of each later occurrence (`DUPLICATE_ID`); the
first one is checked and written as usual.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import BadInput, Conflict, InvalidInput, NotFound, OrdergraphError
from app.queries.filters import one_of
from app.services.writes import found

V = TypeVar("V")
R = TypeVar("R")

MAX_ITEMS = 10_000

# Errors that are about one item; any other (FORBIDDEN, TRY_AGAIN...) fails the call.
ITEM_ERRORS = (BadInput, InvalidInput, Conflict, NotFound)


class ErrorPolicy(Enum):
    REJECT_EVERYTHING = "reject_everything"
    REJECT_FAILED_ROWS = "reject_failed_rows"
    IGNORE_FAILED = "ignore_failed"


@dataclass(frozen=True, slots=True)
class ItemProblem:
    """Something wrong with one item (`index` None: with the call as a whole)."""

    index: int | None
    id: str | None
    field: str
    code: str
    message: str


def problems_of(error: OrdergraphError, *, index: int | None, id: str | None) -> list[ItemProblem]:
    if isinstance(error, InvalidInput):
        return [ItemProblem(index, id, p.field, p.code, p.message) for p in error.problems]
    return [ItemProblem(index, id, error.field or "id", error.code, error.message)]


@dataclass(frozen=True, slots=True)
class Item(Generic[V]):
    index: int
    id: str  # as the caller sent it
    pk: uuid.UUID
    value: V


class Batch(Generic[V]):
    """The items of one bulk call, parsed, and the problems found parsing them.

    Built before the transaction; each attempt at it starts from here (`attempt`), so
    a transaction that runs again for a deadlock checks everything afresh.
    """

    def __init__(self, *, policy: ErrorPolicy, size: int, field: str) -> None:
        if size > MAX_ITEMS:
            raise InvalidInput.one(
                field,
                "TOO_MANY",
                f"At most {MAX_ITEMS} items per call; this one has {size}. "
                "Send them in several calls.",
            )
        self.policy = policy
        self.items: list[Item[V]] = []
        self.problems: list[ItemProblem] = []
        self._first: dict[uuid.UUID, int] = {}

    @contextlib.contextmanager
    def parsing(self, index: int, id: str) -> Iterator[None]:
        """Parse one item inside this block: an item error makes it a problem."""
        try:
            yield
        except ITEM_ERRORS as exc:
            self.problems.extend(problems_of(exc, index=index, id=id))

    def add(self, *, index: int, id: str, pk: uuid.UUID, value: V) -> None:
        first = self._first.setdefault(pk, index)
        if first != index:
            raise InvalidInput.one(
                "id", "DUPLICATE_ID", f"This id is also at index {first}; send each id once."
            )
        self.items.append(Item(index, id, pk, value))

    def attempt(self) -> Attempt[V]:
        return Attempt(self)


class Attempt(Generic[V]):
    """One transaction's run over a batch: the items still standing and every problem."""

    def __init__(self, batch: Batch[V]) -> None:
        self.policy = batch.policy
        self.pending = list(batch.items)
        self.problems = list(batch.problems)

    @property
    def pks(self) -> list[uuid.UUID]:
        """The pending items' keys, in the order every bulk write locks rows in."""
        return sorted(item.pk for item in self.pending)

    def check(self, rule: Callable[[Item[V]], None]) -> None:
        """Apply `rule` to each pending item; an item it raises an item error for drops
        out, the error its problem."""
        kept = []
        for item in self.pending:
            try:
                rule(item)
            except ITEM_ERRORS as exc:
                self.problems.extend(problems_of(exc, index=item.index, id=item.id))
            else:
                kept.append(item)
        self.pending = kept

    def require(self, rows: Mapping[uuid.UUID, Any], *, entity: str) -> None:
        """Items with no row in `rows` drop out as NOT_FOUND."""

        def rule(item: Item[V]) -> None:
            found(rows.get(item.pk), entity=entity)

        self.check(rule)

    @property
    def may_write(self) -> bool:
        if not self.pending:
            return False
        return not (self.problems and self.policy is ErrorPolicy.REJECT_EVERYTHING)

    def result(self, written: Sequence[R]) -> BulkResult[R]:
        return BulkResult(
            written=list(written),
            problems=sorted(self.problems, key=lambda p: (p.index is not None, p.index or 0)),
            policy=self.policy,
        )


@dataclass(frozen=True, slots=True)
class BulkResult(Generic[R]):
    written: list[R]
    problems: list[ItemProblem] = field(default_factory=list)
    policy: ErrorPolicy = ErrorPolicy.REJECT_EVERYTHING

    @property
    def failed(self) -> int:
        """How many items were not written because of a problem of their own."""
        return len({p.index for p in self.problems if p.index is not None})


async def lock_rows(
    conn: AsyncConnection, table: Table, pks: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Row[Any]]:
    """The rows with these keys, locked FOR UPDATE in one statement, in key order (every
    bulk write and placeOrder lock in that order, so they cannot deadlock each other)."""
    if not pks:
        return {}
    rows = await conn.execute(
        select(table).where(one_of(table.c.id, pks)).order_by(table.c.id).with_for_update()
    )
    return {row.id: row for row in rows}
