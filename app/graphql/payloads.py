"""What every mutation shares: one transaction, and input problems in the payload."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.cache.tags import tags_of
from app.db.replicas import commit_position
from app.errors import InvalidInput
from app.graphql.context import Info
from app.services.audit import Actor
from app.services.writes import acting, run_transaction

T = TypeVar("T")


@strawberry.type(description="Something wrong with a mutation's input that the caller can fix.")
class InputError:
    field: str = strawberry.field(
        description='The input field, e.g. "email" or "items.2.quantity".'
    )
    code: str = strawberry.field(description="Stable, e.g. EMAIL_TAKEN, OUT_OF_STOCK, TOO_LONG.")
    message: str = strawberry.field(description="For people: what is wrong and how to fix it.")


async def write(
    info: Info,
    work: Callable[[AsyncConnection, Actor], Awaitable[T]],
    *,
    locks_user: uuid.UUID | None = None,
) -> tuple[T | None, list[InputError]]:
    """Run `work` in one transaction: (its result, []) or (None, the input's problems).

    The actor's role is read again inside the transaction (and their row locked against
    deletion): a demoted admin cannot write with a role cached a moment ago. Any error
    rolls everything back, the audit record included. A transaction aborted for a
    deadlock or a serialization failure runs again, `work` included. Problems the
    caller can fix come back as InputErrors; anything else is a GraphQL error with a
    code. `locks_user`: the user row `work` locks FOR UPDATE (see services.writes.acting).
    """

    async def attempt(conn: AsyncConnection) -> tuple[T, list[dict[str, Any]]]:
        emitted: list[dict[str, Any]] = []
        conn.info["emitted"] = emitted
        actor = await acting(
            conn, info.context.viewer, meta=info.context.meta, locks_user=locks_user
        )
        return await work(conn, actor), emitted

    try:
        result, emitted = await run_transaction(info.context.writer, attempt)
        # Committed: invalidate before the response goes out, then publish.
        await info.context.field_cache.invalidate(sorted(tags_of(emitted)))
        info.context.relay_kick()
        if info.context.settings.database_replica_urls:
            position = await commit_position(info.context.writer)
            info.context.commit_lsn = max(position, info.context.commit_lsn or 0)
        return result, []
    except InvalidInput as exc:
        return None, [
            InputError(field=p.field, code=p.code, message=p.message) for p in exc.problems
        ]
