"""Root fields for users."""

from __future__ import annotations

import strawberry

from app.graphql.connections import PageArgs, paging, root_connection
from app.graphql.context import Info
from app.graphql.relay import After, Before, Connection, First, Last, pk_of
from app.graphql.users.types import User, UserFilter, UserOrder
from app.queries import users
from app.queries.keyset import Ordering

DEFAULT_ORDER = Ordering(users.SORT_KEYS["CREATED_AT"], descending=False)


@strawberry.type
class UserQuery:
    @strawberry.field(description="All users, oldest first unless orderBy says otherwise.")
    async def users(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: UserFilter | None = None,
        order_by: UserOrder | None = None,
    ) -> Connection[User]:
        codec, window = paging(
            info,
            entity="User",
            args=PageArgs(first, after, last, before),
            order_by=order_by,
            keys=users.SORT_KEYS,
            default=DEFAULT_ORDER,
        )
        return await root_connection(
            info,
            codec=codec,
            window=window,
            where=filter.to_query() if filter else None,
            fetch_page=users.users_page,
            fetch_count=users.count_users,
            node=User.from_record,
        )

    @strawberry.field(description="One user by ID, or null if there is none.")
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        record = await info.context.loaders.user_by_id.load(pk_of(id, "User"))
        return User.from_record(record) if record else None
