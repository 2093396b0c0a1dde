"""Root fields for users."""

from __future__ import annotations

import dataclasses
import uuid

import strawberry

from app.auth import policy
from app.auth.viewer import Viewer
from app.graphql.connections import list_field
from app.graphql.context import Context, Info
from app.graphql.relay import pk_of
from app.graphql.users.types import User, UserFilter, UserSort
from app.queries import users
from app.queries.keyset import Ordering

# Oldest first: the connection's order without orderBy (and its export's).
DEFAULT_ORDER = Ordering(users.SORT_KEYS["CREATED_AT"], descending=False)


def visible_users(viewer: Viewer, where: users.UserWhere | None) -> users.UserWhere:
    """`where` narrowed to the users the viewer may read (the connection and exports)."""
    scope = policy.owner_scope(viewer, to="read users")
    return dataclasses.replace(where or users.UserWhere(), visible_to=scope)


@strawberry.type
class UserQuery:
    users = list_field(
        entity="User",
        node=User,
        filter_input=UserFilter,
        order_input=UserSort,
        keys=users.SORT_KEYS,
        default=DEFAULT_ORDER,
        fetch_page=users.users_page,
        fetch_count=users.count_users,
        description="Users you may see, oldest first unless orderBy says otherwise: "
        "everyone for admins, yourself otherwise.",
        restrict=visible_users,
    )

    @strawberry.field(description="One user by ID, or null if there is none you may see.")
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        return await visible_user(info, pk_of(id, "User"))

    @strawberry.field(description="Who you are signed in as; null when anonymous.")
    async def viewer(self, info: Info) -> User | None:
        if info.context.viewer.user_id is None:
            return None
        return await visible_user(info, info.context.viewer.user_id)


async def visible_user(info: Info, user_id: uuid.UUID) -> User | None:
    record = await visible_user_record(info.context, user_id)
    return User.from_record(record) if record else None


def check_read_users(viewer: Viewer) -> None:
    """Raises for a viewer who may read no user at all (before anything is read)."""
    policy.require_user(viewer, to="read users")


async def visible_user_record(context: Context, user_id: uuid.UUID) -> users.UserRecord | None:
    """The user's record if the viewer may see it, else None."""
    viewer = context.viewer
    check_read_users(viewer)
    if not policy.can_read_user(viewer, user_id):
        return None
    return await context.loaders.user_by_id.load(user_id)
