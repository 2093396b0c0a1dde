"""The User type and its filter and ordering inputs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.audit.fields import history_field
from app.graphql.caching import Cached, CacheScope, through_cache
from app.graphql.context import Info
from app.graphql.cost import CONNECTION_SIZE, ListSize
from app.graphql.inputs import DateTimeRange
from app.graphql.orders.queries import user_orders
from app.graphql.relay import (
    After,
    Before,
    Connection,
    First,
    Last,
    Node,
    SortDirection,
)
from app.graphql.stats.types import OrderStats
from app.queries import stats
from app.queries.text import checked_text
from app.queries.users import UserRecord, UserWhere

if TYPE_CHECKING:
    from app.graphql.orders.types import Order, OrderFilter, OrderSort
    from app.graphql.tokens.types import ApiToken


@strawberry.enum(description="What a user may do.")
class Role(Enum):
    USER = "user"
    ADMIN = "admin"


ORDER_STATS_CACHE = Cached(ttl=60, scope=CacheScope.PRIVATE)


@strawberry.type(description="Someone who places orders.")
class User(Node):
    pk: strawberry.Private[uuid.UUID]
    email: str = strawberry.field(
        description="Only its owner and admins ever see a User, so only they see this."
    )
    name: str
    role: Role
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Send as expectedVersion when you update.")

    @classmethod
    def from_record(cls, record: UserRecord) -> User:
        return cls(
            pk=record.id,
            email=record.email,
            name=record.name,
            role=Role(record.role),
            created_at=record.created_at,
            updated_at=record.updated_at,
            version=record.version,
        )

    history = history_field("user")

    @strawberry.field(description="This user's orders in figures.", directives=[ORDER_STATS_CACHE])
    async def order_stats(self, info: Info) -> OrderStats:
        record = await through_cache(
            info,
            type_name="User",
            field_name="orderStats",
            parent_id=str(self.pk),
            arguments={},
            hint=ORDER_STATS_CACHE,
            tags=[f"user:{self.pk}:orders"],
            compute=lambda: info.context.loaders.order_stats_by_user_id.load(self.pk),
            encode=stats.encode_order_stats,
            decode=stats.decode_order_stats,
        )
        return OrderStats.from_record(record)

    @strawberry.field(
        description="This user's API tokens (never their secrets).",
        directives=[ListSize(assumed_size=10)],
    )
    async def api_tokens(
        self, info: Info
    ) -> list[Annotated[ApiToken, strawberry.lazy("app.graphql.tokens.types")]]:
        from app.graphql.tokens.types import ApiToken

        records = await info.context.loaders.tokens_by_user_id.load(self.pk)
        return [ApiToken.from_record(record) for record in records]

    @strawberry.field(
        description="This user's orders, newest first unless orderBy says otherwise.",
        directives=[CONNECTION_SIZE],
    )
    async def orders(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[OrderFilter, strawberry.lazy("app.graphql.orders.types")] | None = None,
        order_by: Annotated[OrderSort, strawberry.lazy("app.graphql.orders.types")] | None = None,
    ) -> Connection[Annotated[Order, strawberry.lazy("app.graphql.orders.types")]]:
        return await user_orders(
            info,
            user_id=self.pk,
            first=first,
            after=after,
            last=last,
            before=before,
            filter=filter,
            order_by=order_by,
        )


@strawberry.enum(description="Fields a users connection can be ordered by.")
class UserSortField(Enum):
    CREATED_AT = "created_at"
    EMAIL = "email"
    NAME = "name"


@strawberry.input(description="How to order users; ties are broken by id.")
class UserSort:
    field: UserSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Narrows a users connection; all given conditions must hold.")
class UserFilter:
    email: str | None = strawberry.field(default=None, description="Case-insensitive substring.")
    name: str | None = strawberry.field(default=None, description="Case-insensitive substring.")
    role: Role | None = None
    created_at: DateTimeRange | None = None

    def to_query(self) -> UserWhere:
        return UserWhere(
            email=checked_text(self.email, field="filter.email", max_length=256)
            if self.email is not None
            else None,
            name=checked_text(self.name, field="filter.name", max_length=256)
            if self.name is not None
            else None,
            role=self.role.value if self.role else None,
            created_at=self.created_at.to_query(field="filter.createdAt")
            if self.created_at
            else None,
        )
