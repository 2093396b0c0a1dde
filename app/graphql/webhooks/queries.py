"""Query.webhooks and Query.webhookDeliveries: admins only."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from app.auth import policy
from app.auth.viewer import Viewer
from app.graphql.connections import PageArgs, list_field, paging, root_connection
from app.graphql.context import Info
from app.graphql.cost import CONNECTION_SIZE
from app.graphql.relay import After, Before, Connection, First, Last, SortDirection, pk_of
from app.graphql.webhooks.types import (
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookState,
)
from app.queries.keyset import Ordering
from app.webhooks import records

NEWEST_FIRST = Ordering(records.SORT_KEYS["CREATED_AT"], descending=True)


def _admins_only(viewer: Viewer, where: Any) -> Any:
    policy.require_admin(viewer, to="read webhooks")
    return where


@strawberry.enum(description="Fields webhooks and deliveries can be ordered by.")
class WebhookSortField(Enum):
    CREATED_AT = "created_at"


@strawberry.input(description="How to order; ties are broken by id.")
class WebhookSort:
    field: WebhookSortField
    direction: SortDirection = SortDirection.DESC


@strawberry.input(description="Which endpoints to list.")
class WebhookListFilter:
    state: WebhookState | None = strawberry.field(default=None, description="Only these.")

    def to_query(self) -> str | None:
        return self.state.value if self.state is not None else None


@strawberry.type
class WebhookQuery:
    webhooks = list_field(
        entity="Webhook",
        node=Webhook,
        filter_input=WebhookListFilter,
        order_input=WebhookSort,
        keys=records.SORT_KEYS,
        default=NEWEST_FIRST,
        fetch_page=records.webhook_page,
        fetch_count=records.count_webhooks,
        description="Every webhook endpoint, newest first. Admins only.",
        restrict=_admins_only,
    )

    @strawberry.field(
        description="The delivery log, newest first: attempts, status codes, latency and "
        "the answer's start. FAILED ones are the dead letters (redeliverWebhook). Admins only.",
        directives=[CONNECTION_SIZE],
    )
    async def webhook_deliveries(
        self,
        info: Info,
        webhook_id: strawberry.ID | None = None,
        status: WebhookDeliveryStatus | None = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        order_by: WebhookSort | None = None,
    ) -> Connection[WebhookDelivery]:
        policy.require_admin(info.context.viewer, to="read webhook deliveries")
        where = records.DeliveryWhere(
            webhook_id=pk_of(webhook_id, "Webhook", argument="webhookId")
            if webhook_id is not None
            else None,
            status=status.value if status is not None else None,
        )
        codec, window = paging(
            info,
            entity="WebhookDelivery",
            args=PageArgs(first, after, last, before),
            order_by=order_by,
            keys=records.SORT_KEYS,
            default=NEWEST_FIRST,
        )
        return await root_connection(
            info.context,
            codec=codec,
            window=window,
            where=where,
            fetch_page=records.delivery_page,
            fetch_count=records.count_deliveries,
            node=WebhookDelivery.from_record,
        )
