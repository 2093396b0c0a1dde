"""Query.auditEvents: the whole trail, for admins."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from app.auth import policy
from app.auth.viewer import Viewer
from app.graphql.audit.types import NEWEST_FIRST, AuditEvent, AuditEventFilter
from app.graphql.connections import list_field
from app.graphql.relay import SortDirection
from app.queries import audit


def _admins_only(viewer: Viewer, where: Any) -> Any:
    policy.require_admin(viewer, to="read the audit trail")
    return where


@strawberry.enum(description="Fields the audit trail can be ordered by.")
class AuditEventSortField(Enum):
    OCCURRED_AT = "occurred_at"


@strawberry.input(description="How to order audit events; ties are broken by id.")
class AuditEventSort:
    field: AuditEventSortField
    direction: SortDirection = SortDirection.DESC


@strawberry.type
class AuditQuery:
    audit_events = list_field(
        entity="AuditEvent",
        node=AuditEvent,
        filter_input=AuditEventFilter,
        order_input=AuditEventSort,
        keys=audit.SORT_KEYS,
        default=NEWEST_FIRST,
        fetch_page=audit.audit_page,
        fetch_count=audit.count_audit,
        description="Every recorded change, newest first. Admins only.",
        restrict=_admins_only,
    )
