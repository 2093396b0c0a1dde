"""`history`: the audit events of one object, as a field any entity type can carry.

No `from __future__ import annotations`: the resolver's annotations are built here.
"""

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.graphql.connections import PageArgs
from app.graphql.context import Info
from app.graphql.cost import CONNECTION_SIZE
from app.graphql.relay import After, Before, Connection, First, Last

if TYPE_CHECKING:
    from app.graphql.audit.types import AuditEvent

AuditEventRef = Annotated["AuditEvent", strawberry.lazy("app.graphql.audit.types")]


def history_field(entity: str) -> Any:
    """A `history(first after last before): AuditEventConnection!` field on a type whose
    objects keep their primary key in `pk`."""

    async def resolve(
        self: Any,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[AuditEventRef]:
        from app.graphql.audit.types import history

        return await history(info, entity_id=self.pk, args=PageArgs(first, after, last, before))

    description = f"Changes to this {entity}, newest first."
    return strawberry.field(resolver=resolve, description=description, directives=[CONNECTION_SIZE])
