"""The audit trail as GraphQL: events, their filter, and `history` on each entity."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from app.auth import policy
from app.graphql.connections import PageArgs, paging
from app.graphql.context import Info
from app.graphql.inputs import DateTimeRange
from app.graphql.relay import (
    Connection,
    Node,
    build_connection,
    from_global_id,
    pk_of,
    to_global_id,
)
from app.queries import audit
from app.queries.audit import AuditRecord, AuditWhere
from app.queries.keyset import Ordering
from app.queries.text import checked_text

if TYPE_CHECKING:
    from app.graphql.users.types import User

PRIVATE_ACTIONS = ("product.stock_changed",)
NEWEST_FIRST = Ordering(audit.SORT_KEYS["OCCURRED_AT"], descending=True)


@strawberry.type(description="One recorded change: who did what to which object, and when.")
class AuditEvent(Node):
    pk: strawberry.Private[uuid.UUID]
    actor_pk: strawberry.Private[uuid.UUID | None]
    occurred_at: datetime
    action: str = strawberry.field(description="e.g. user.created, order.status_changed.")
    actor_kind: str = strawberry.field(description="user, cli or system.")
    entity_type: str
    entity_id: strawberry.ID = strawberry.field(description="Global ID of the changed object.")
    changes: JSON = strawberry.field(
        description='Changed fields: {"field": {"before": ..., "after": ...}}.'
    )
    request_id_value: strawberry.Private[str | None]
    client_addr: strawberry.Private[str | None]
    user_agent_value: strawberry.Private[str | None]

    @classmethod
    def from_record(cls, record: AuditRecord) -> AuditEvent:
        return cls(
            pk=record.id,
            actor_pk=record.actor_id,
            occurred_at=record.occurred_at,
            action=record.action,
            actor_kind=record.actor_kind,
            entity_type=record.entity_type,
            entity_id=to_global_id(record.entity_type, record.entity_id),
            changes=JSON(record.changes),
            request_id_value=record.request_id,
            client_addr=record.client_addr,
            user_agent_value=record.user_agent,
        )

    @strawberry.field(description="Who made the change; null for the CLI or one you may not see.")
    async def actor(
        self, info: Info
    ) -> Annotated[User, strawberry.lazy("app.graphql.users.types")] | None:
        from app.graphql.users.types import User

        if self.actor_pk is None or not policy.can_read_user(info.context.viewer, self.actor_pk):
            return None
        record = await info.context.loaders.user_by_id.load(self.actor_pk)
        return User.from_record(record) if record else None

    @strawberry.field(description="The request that made the change; admins only.")
    def request_id(self, info: Info) -> str | None:
        return self.request_id_value if info.context.viewer.is_admin else None

    @strawberry.field(description="The client's address; admins only, null for others.")
    def client_address(self, info: Info) -> str | None:
        return self.client_addr if info.context.viewer.is_admin else None

    @strawberry.field(description="The client's User-Agent; admins only, null for others.")
    def user_agent(self, info: Info) -> str | None:
        return self.user_agent_value if info.context.viewer.is_admin else None


@strawberry.input(description="Narrows the audit trail; all given conditions must hold.")
class AuditEventFilter:
    entity_id: strawberry.ID | None = strawberry.field(default=None, description="Any global ID.")
    actor_id: strawberry.ID | None = strawberry.field(default=None, description="A User ID.")
    action: str | None = strawberry.field(default=None, description="e.g. order.placed.")
    after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    before: datetime | None = strawberry.field(default=None, description="Exclusive.")

    def to_query(self) -> AuditWhere:
        return AuditWhere(
            entity_id=from_global_id(self.entity_id, argument="filter.entityId")[1]
            if self.entity_id is not None
            else None,
            actor_id=pk_of(self.actor_id, "User", argument="filter.actorId")
            if self.actor_id is not None
            else None,
            action=checked_text(self.action, field="filter.action", max_length=100)
            if self.action is not None
            else None,
            occurred_at=DateTimeRange(from_=self.after, to=self.before).to_query(field="filter")
            if self.after is not None or self.before is not None
            else None,
        )


async def history(info: Info, *, entity_id: uuid.UUID, args: PageArgs) -> Connection[AuditEvent]:
    """The changes to one object, newest first (the caller already may read the object).

    Batched with every other object's history on the same level: one statement for all
    their pages, one for all their counts. Stock movements are admins' business: each one
    tells of somebody's order.
    """
    codec, window = paging(
        info,
        entity="AuditEvent",
        args=args,
        order_by=None,
        keys=audit.SORT_KEYS,
        default=NEWEST_FIRST,
    )
    where = AuditWhere(hidden_actions=hidden_actions(info))
    loaders = info.context.loaders
    page = await loaders.audit_page_by_entity_id(where, window).load(entity_id)
    return build_connection(
        page,
        codec=codec,
        node=AuditEvent.from_record,
        count=lambda: loaders.audit_count_by_entity_id(where).load(entity_id),
    )


def hidden_actions(info: Info) -> tuple[str, ...]:
    """The actions hidden from this viewer in an object's history."""
    return () if info.context.viewer.is_admin else PRIVATE_ACTIONS
