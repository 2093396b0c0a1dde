"""What every bulk mutation (and import) shares: the error policy, per-item errors, and
one transaction for the whole call. The rules live in app.services.bulk."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import InvalidInput
from app.graphql.context import Info
from app.graphql.payloads import write
from app.graphql.relay import pk_of
from app.services import bulk
from app.services.audit import Actor

V = TypeVar("V")
R = TypeVar("R")


@strawberry.enum(description="What a bulk write does when some of its items are bad.")
class ErrorPolicy(Enum):
    REJECT_EVERYTHING = strawberry.enum_value(
        "reject_everything", description="Any bad item, and nothing is written (the default)."
    )
    REJECT_FAILED_ROWS = strawberry.enum_value(
        "reject_failed_rows",
        description="The good items are written; each bad one is reported in `errors`.",
    )
    IGNORE_FAILED = strawberry.enum_value(
        "ignore_failed",
        description="The good items are written; the bad ones are only counted "
        "(`failedCount`), `errors` stays empty.",
    )

    def to_service(self) -> bulk.ErrorPolicy:
        return bulk.ErrorPolicy(self.value)


@strawberry.type(description="Something wrong with one item of a bulk write.")
class BulkItemError:
    index: int | None = strawberry.field(
        description="The item's position in the list, from 0; null: the call as a whole."
    )
    id: strawberry.ID | None = strawberry.field(description="The item's id, as you sent it.")
    field: str = strawberry.field(description='The item\'s field, e.g. "id" or "price".')
    code: str = strawberry.field(
        description="Stable: the single mutation's code (NOT_FOUND, CONFLICT, PRODUCT_IN_USE, "
        "INVALID_TRANSITION...), DUPLICATE_ID, or TOO_MANY for a list over the limit."
    )
    message: str = strawberry.field(description="For people: what is wrong and how to fix it.")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[R]):
    """What a bulk mutation's payload shows."""

    written: list[R]
    errors: list[BulkItemError]
    failed_count: int


def ids_batch(
    ids: Sequence[strawberry.ID], type_name: str, *, policy: ErrorPolicy
) -> bulk.Batch[None]:
    """A batch of ids that must name `type_name`s; a malformed one is that item's error."""
    batch: bulk.Batch[None] = bulk.Batch(policy=policy.to_service(), size=len(ids), field="ids")
    for index, value in enumerate(ids):
        with batch.parsing(index, value):
            batch.add(index=index, id=value, pk=pk_of(value, type_name), value=None)
    return batch


async def bulk_write(
    info: Info,
    build: Callable[[], bulk.Batch[V]],
    work: Callable[[AsyncConnection, Actor, bulk.Batch[V]], Awaitable[bulk.BulkResult[R]]],
    *,
    locks_viewer: bool = False,
) -> Outcome[R]:
    """Parse the items (`build`), then write them in one transaction (`write`: retried on
    deadlocks, caches invalidated and events published once it commits).

    `locks_viewer`: `work` locks the rows it names FOR UPDATE, and when the viewer's own
    row is among them it is locked first (see services.writes.acting)."""
    try:
        batch = build()
    except InvalidInput as exc:
        return Outcome([], _errors(bulk.problems_of(exc, index=None, id=None)), 0)
    viewer_id = info.context.viewer.user_id
    locks_user: uuid.UUID | None = None
    if locks_viewer and any(item.pk == viewer_id for item in batch.items):
        locks_user = viewer_id

    async def attempt(conn: AsyncConnection, actor: Actor) -> bulk.BulkResult[R]:
        return await work(conn, actor, batch)

    result, errors = await write(info, attempt, locks_user=locks_user)
    if result is None:
        whole = [bulk.ItemProblem(None, None, e.field, e.code, e.message) for e in errors]
        return Outcome([], _errors(whole), 0)
    shown = [] if result.policy is bulk.ErrorPolicy.IGNORE_FAILED else result.problems
    return Outcome(result.written, _errors(shown), result.failed)


def _errors(problems: Sequence[bulk.ItemProblem]) -> list[BulkItemError]:
    return [
        BulkItemError(
            index=p.index,
            id=strawberry.ID(p.id) if p.id is not None else None,
            field=p.field,
            code=p.code,
            message=p.message,
        )
        for p in problems
    ]
