"""Root fields for users."""

from __future__ import annotations

import strawberry

from app.graphql.connections import list_field
from app.graphql.context import Info
from app.graphql.relay import pk_of
from app.graphql.users.types import User, UserFilter, UserOrder
from app.queries import users
from app.queries.keyset import Ordering


@strawberry.type
class UserQuery:
    users = list_field(
        entity="User",
        node=User,
        filter_input=UserFilter,
        order_input=UserOrder,
        keys=users.SORT_KEYS,
        default=Ordering(users.SORT_KEYS["CREATED_AT"], descending=False),
        fetch_page=users.users_page,
        fetch_count=users.count_users,
        description="All users, oldest first unless orderBy says otherwise.",
    )

    @strawberry.field(description="One user by ID, or null if there is none.")
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        record = await info.context.loaders.user_by_id.load(pk_of(id, "User"))
        return User.from_record(record) if record else None
