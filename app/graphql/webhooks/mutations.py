"""Managing webhook endpoints: admins only. Input problems come back in the payload."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import InvalidInput
from app.graphql.context import Info
from app.graphql.events.types import event_position
from app.graphql.payloads import InputError, write
from app.graphql.relay import pk_of
from app.graphql.webhooks.types import (
    Webhook,
    WebhookDelivery,
    WebhookEventType,
    WebhookFilterInput,
)
from app.services.audit import Actor
from app.webhooks import service, topics
from app.webhooks.records import DeliveryRecord, WebhookRecord


@strawberry.type(description="The new endpoint. `secret` is shown only here, only once.")
class CreateWebhookPayload:
    secret: str | None = strawberry.field(
        description="whsec_…: verify each message's webhook-signature with it. Store it now."
    )
    webhook: Webhook | None
    errors: list[InputError]


@strawberry.type(description="The endpoint after the change, or what to fix.")
class WebhookPayload:
    webhook: Webhook | None
    errors: list[InputError]


@strawberry.type(
    description="The new secret, shown only here; the old one signs too until "
    "`webhook.previousSecretExpiresAt`."
)
class RotateWebhookSecretPayload:
    secret: str | None
    webhook: Webhook | None
    errors: list[InputError]


@strawberry.type(description="The message queued for the endpoint.")
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None
    errors: list[InputError]


@strawberry.type(description="How many messages were queued again.")
class ReplayWebhookPayload:
    queued: int
    errors: list[InputError]


def _checks(info: Info) -> service.Checks:
    settings = info.context.settings
    return service.Checks(
        schema=info.schema._schema,
        require_https=settings.environment == "production",
        allow_private=settings.webhook_allow_private,
    )


def _kick(info: Info) -> None:
    dispatcher = getattr(info.context.request.app.state, "webhooks", None)
    if dispatcher is not None:
        dispatcher.kick()


async def _endpoint(
    info: Info, work: Callable[[AsyncConnection, Actor], Awaitable[WebhookRecord]]
) -> WebhookPayload:
    record, errors = await write(info, work)
    _kick(info)
    return WebhookPayload(webhook=Webhook.from_record(record) if record else None, errors=errors)


async def _message(
    info: Info, work: Callable[[AsyncConnection, Actor], Awaitable[DeliveryRecord]]
) -> WebhookDeliveryPayload:
    record, errors = await write(info, work)
    _kick(info)
    return WebhookDeliveryPayload(
        delivery=WebhookDelivery.from_record(record) if record else None, errors=errors
    )


def _events(events: list[WebhookEventType]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(event.value for event in events))


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Register an endpoint for events committed from now on. Admins only; "
        "`query` (a subscription document) shapes the payload, run with your rights."
    )
    async def create_webhook(
        self,
        info: Info,
        url: str,
        events: list[WebhookEventType],
        filter: WebhookFilterInput | None = None,
        query: str | None = None,
    ) -> CreateWebhookPayload:
        data = service.Registration(
            url=url,
            events=_events(events),
            filter=filter.to_filter() if filter is not None else topics.Filter(),
            query=query,
        )
        checks = _checks(info)

        async def work(conn: AsyncConnection, actor: Actor) -> tuple[str, WebhookRecord]:
            return await service.create_webhook(conn, actor=actor, data=data, checks=checks)

        result, errors = await write(info, work)
        if result is None:
            return CreateWebhookPayload(secret=None, webhook=None, errors=errors)
        return CreateWebhookPayload(
            secret=result[0], webhook=Webhook.from_record(result[1]), errors=[]
        )

    @strawberry.mutation(description="Change an endpoint; arguments left out stay as they are.")
    async def update_webhook(
        self,
        info: Info,
        id: strawberry.ID,
        url: str | None = None,
        events: list[WebhookEventType] | None = None,
        filter: WebhookFilterInput | None = None,
        query: str | None = None,
        clear_query: bool = False,
    ) -> WebhookPayload:
        webhook_id = pk_of(id, "Webhook")
        checks = _checks(info)
        new_filter = filter.to_filter() if filter is not None else None

        async def work(conn: AsyncConnection, actor: Actor) -> WebhookRecord:
            return await service.update_webhook(
                conn,
                actor=actor,
                webhook_id=webhook_id,
                url=url,
                events=_events(events) if events is not None else None,
                filter=new_filter,
                query=query,
                clear_query=clear_query,
                checks=checks,
            )

        return await _endpoint(info, work)

    @strawberry.mutation(description="Stop sending; events still queue, in order.")
    async def pause_webhook(self, info: Info, id: strawberry.ID) -> WebhookPayload:
        return await _endpoint(info, _state(pk_of(id, "Webhook"), "paused"))

    @strawberry.mutation(
        description="Send again (also after it was disabled): failures forgotten, the "
        "breaker closed, the queue resumed where it stopped."
    )
    async def resume_webhook(self, info: Info, id: strawberry.ID) -> WebhookPayload:
        return await _endpoint(info, _state(pk_of(id, "Webhook"), "active"))

    @strawberry.mutation(description="Remove an endpoint and its delivery log.")
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> WebhookPayload:
        webhook_id = pk_of(id, "Webhook")

        async def work(conn: AsyncConnection, actor: Actor) -> WebhookRecord:
            return await service.delete_webhook(conn, actor=actor, webhook_id=webhook_id)

        return await _endpoint(info, work)

    @strawberry.mutation(
        description="A new secret; both sign each message for `graceSeconds` (default "
        "WEBHOOK_SECRET_GRACE_SECONDS), so receivers can switch without a gap."
    )
    async def rotate_webhook_secret(
        self, info: Info, id: strawberry.ID, grace_seconds: int | None = None
    ) -> RotateWebhookSecretPayload:
        webhook_id = pk_of(id, "Webhook")
        grace = (
            grace_seconds
            if grace_seconds is not None
            else info.context.settings.webhook_secret_grace_seconds
        )

        async def work(conn: AsyncConnection, actor: Actor) -> tuple[str, WebhookRecord]:
            if not 0 <= grace <= 30 * 86_400:
                raise InvalidInput.one(
                    "graceSeconds", "OUT_OF_RANGE", "0 to 2592000 seconds (30 days)."
                )
            return await service.rotate_secret(
                conn, actor=actor, webhook_id=webhook_id, grace_seconds=grace
            )

        result, errors = await write(info, work)
        if result is None:
            return RotateWebhookSecretPayload(secret=None, webhook=None, errors=errors)
        return RotateWebhookSecretPayload(
            secret=result[0], webhook=Webhook.from_record(result[1]), errors=[]
        )

    @strawberry.mutation(description="Queue a webhook.ping message to the endpoint.")
    async def test_webhook(self, info: Info, id: strawberry.ID) -> WebhookDeliveryPayload:
        webhook_id = pk_of(id, "Webhook")

        async def work(conn: AsyncConnection, actor: Actor) -> DeliveryRecord:
            return await service.ping_webhook(conn, actor=actor, webhook_id=webhook_id)

        return await _message(info, work)

    @strawberry.mutation(description="Queue a delivery's message again, same webhook-id.")
    async def redeliver_webhook(
        self, info: Info, delivery_id: strawberry.ID
    ) -> WebhookDeliveryPayload:
        pk = pk_of(delivery_id, "WebhookDelivery", argument="deliveryId")

        async def work(conn: AsyncConnection, actor: Actor) -> DeliveryRecord:
            return await service.redeliver(conn, actor=actor, delivery_id=pk)

        return await _message(info, work)

    @strawberry.mutation(
        description="Queue again every event after `after` (an event cursor: a delivery's "
        "eventCursor) that the endpoint wants, in order."
    )
    async def replay_webhook(
        self, info: Info, id: strawberry.ID, after: str
    ) -> ReplayWebhookPayload:
        webhook_id = pk_of(id, "Webhook")
        position = event_position(after)

        async def work(conn: AsyncConnection, actor: Actor) -> int:
            return await service.replay(conn, actor=actor, webhook_id=webhook_id, after=position)

        queued, errors = await write(info, work)
        _kick(info)
        return ReplayWebhookPayload(queued=queued or 0, errors=errors)


def _state(
    webhook_id: uuid.UUID, state: str
) -> Callable[[AsyncConnection, Actor], Awaitable[WebhookRecord]]:
    async def work(conn: AsyncConnection, actor: Actor) -> WebhookRecord:
        return await service.set_state(conn, actor=actor, webhook_id=webhook_id, state=state)

    return work
