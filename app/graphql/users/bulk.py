"""Deleting many users at once. Admins only."""

from __future__ import annotations

import uuid

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.graphql.bulk import BulkItemError, ErrorPolicy, bulk_write, ids_batch
from app.graphql.context import Info
from app.graphql.relay import to_global_id
from app.services import bulk, users
from app.services.audit import Actor


@strawberry.type(description="The users deleted, and what was wrong with the others.")
class BulkDeleteUsersPayload:
    count: int = strawberry.field(description="How many users were deleted.")
    deleted_ids: list[strawberry.ID] = strawberry.field(description="In input order.")
    errors: list[BulkItemError]
    failed_count: int = strawberry.field(description="How many items were not written.")


@strawberry.type
class UserBulkMutation:
    @strawberry.mutation(
        description="Delete up to 10000 users who have no orders, with the rules of "
        "deleteUser. Admins only."
    )
    async def bulk_delete_users(
        self,
        info: Info,
        ids: list[strawberry.ID],
        error_policy: ErrorPolicy = ErrorPolicy.REJECT_EVERYTHING,
    ) -> BulkDeleteUsersPayload:
        async def work(
            conn: AsyncConnection, actor: Actor, batch: bulk.Batch[None]
        ) -> bulk.BulkResult[uuid.UUID]:
            return await users.bulk_delete_users(conn, actor=actor, batch=batch)

        outcome = await bulk_write(
            info, lambda: ids_batch(ids, "User", policy=error_policy), work, locks_viewer=True
        )
        # Their credentials stop working at once on this instance (see deleteUser).
        info.context.authenticator.forget_users(set(outcome.written))
        return BulkDeleteUsersPayload(
            count=len(outcome.written),
            deleted_ids=[to_global_id("User", pk) for pk in outcome.written],
            errors=outcome.errors,
            failed_count=outcome.failed_count,
        )
