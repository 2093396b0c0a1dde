"""Subscriptions: orderEvents, productEvents, userEvents.

A subscriber joins the broker first, then (with `after`) replays the event log up to the
position the broker had reached when it joined, then continues live: no gap, no
duplicate at the seam. Every event passes the same read rules as a query. Once live, a
WebSocket subscriber may take its events on the fast path (app.graphql.events.fast).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime

import strawberry
from starlette.websockets import WebSocket

from app.auth import policy
from app.db.engine import connect
from app.errors import BadInput, NotFound, Unauthenticated
from app.events import event_log
from app.events.broker import Broker
from app.events.records import Event
from app.graphql.context import Context, Info
from app.graphql.errors import coded
from app.graphql.events import fast
from app.graphql.events.types import (
    OrderEvent,
    OrderEventFilter,
    ProductEvent,
    ProductEventFilter,
    UserEvent,
    event_position,
)
from app.graphql.relay import pk_of


async def stream(
    info: Info,
    *,
    topic: str,
    wanted: Callable[[Event], bool],
    after: str | None,
    root: Callable[[Event], object],
) -> AsyncIterator[Event]:
    """The events of `topic` this subscriber wants, in order; `root` makes the value each
    is delivered as (the subscription field's type), from the event alone."""
    context = info.context
    broker: Broker = context.request.app.state.broker
    start = event_position(after) if after is not None else None
    rights = _Rights(context)
    subscriber = broker.subscribe(
        lambda event: event.topic == topic and wanted(event), transport=transport_of(context)
    )
    try:
        floor = subscriber.start
        if start is not None:
            replay = _replay(info, start, until=subscriber.start, wanted=subscriber.predicate)
            async for event in replay:
                await rights.check()
                context.fresh_reads()
                yield event
            floor = max(floor, start)
        fast.attach(subscriber, context=context, rights=rights, floor=floor, root=root)
        while True:
            await rights.check()
            try:
                event = await subscriber.next(rights.wait())
            except TimeoutError:
                continue
            if event.position > floor:
                # The wait may have ended just as a check fell due; checked before every
                # event, so a busy feed is checked as often as an idle one.
                await rights.check()
                context.fresh_reads()
                yield event
    finally:
        subscriber.close()


def transport_of(context: Context) -> str:
    """ws, sse or multipart: how this subscriber's events travel (for /metrics)."""
    request = context.request
    if isinstance(request, WebSocket):
        return "ws"
    if "multipart/mixed" in request.headers.get("accept", ""):
        return "multipart"
    # graphql-sse: an event stream, or an operation of a reserved one (single connection).
    return "sse"


class _Rights:
    """The subscriber's credential, checked again every `AUTH_CACHE_SECONDS` (at least
    every second) whether events come or not, and its expiry to the moment."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.viewer = context.viewer
        self.every = max(context.settings.auth_cache_seconds, 1.0)
        self.due = time.monotonic() + self.every

    async def check(self) -> None:
        """Raise UNAUTHENTICATED when the events may no longer be seen."""
        expiry = _until_expiry(self.viewer.expires_at)
        if expiry is not None and expiry <= 0:
            raise Unauthenticated("Your credential expired; subscribe again with a fresh one.")
        if time.monotonic() >= self.due:
            await self._still_valid()
            self.due = time.monotonic() + self.every

    async def _still_valid(self) -> None:
        # Revoked, expired, or now naming someone else or another role: the events this
        # subscription may see were decided by the old rights. The authenticator trusts
        # a checked credential for AUTH_CACHE_SECONDS, but the instance that revokes a
        # token or changes a role forgets it at once.
        context = self.context
        if context.credential is None:
            return
        current = await context.authenticator.viewer(context.credential)
        if (current.user_id, current.role) != (self.viewer.user_id, self.viewer.role):
            raise Unauthenticated("Your rights changed; subscribe again.")

    def current(self) -> bool:
        """True while no check is due and the credential has not expired."""
        expires_at = self.viewer.expires_at
        return time.monotonic() < self.due and (
            expires_at is None or expires_at > datetime.now(UTC)
        )

    def wait(self) -> float:
        """How long to wait for the next event before a check falls due."""
        until_due = max(self.due - time.monotonic(), 0.0)
        expiry = _until_expiry(self.viewer.expires_at)
        return until_due if expiry is None else min(until_due, expiry)


async def _replay(
    info: Info, start: int, *, until: int, wanted: Callable[[Event], bool]
) -> AsyncIterator[Event]:
    reader = info.context.loaders.engine
    async with connect(reader) as conn:
        first, last = await event_log.bounds(conn)
    if start > last:
        raise BadInput("`after` is not a cursor of this event log.", field="after")
    too_old = BadInput(
        "`after` is older than the events kept (EVENTS_RETENTION_DAYS); read the current "
        "state with a query and subscribe without `after`.",
        field="after",
    )
    if first and start < first - 1:
        raise too_old
    position = start
    while position < until:
        async with connect(reader) as conn:
            batch = await event_log.read_after(conn, position, until=until)
        if not batch:
            return
        if batch[0].position != position + 1:
            raise too_old  # pruned while we read: never skip silently
        for event in batch:
            position = event.position
            if wanted(event):
                yield event


def _until_expiry(expires_at: datetime | None) -> float | None:
    if expires_at is None:
        return None
    return max((expires_at - datetime.now(UTC)).total_seconds(), 0.0)


@strawberry.type(description="Live change feeds. Each event has a cursor to resume from.")
class Subscription:
    @strawberry.subscription(
        description="Changes to orders: yours, or anyone's for admins. `after` replays "
        "what you missed since that cursor, then continues live."
    )
    @coded
    async def order_events(
        self, info: Info, filter: OrderEventFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[OrderEvent, None]:
        viewer = info.context.viewer
        policy.require_user(viewer, to="receive order events")
        user_id = (
            pk_of(filter.user_id, "User", argument="filter.userId")
            if filter is not None and filter.user_id is not None
            else None
        )
        statuses = (
            {status.value for status in filter.status}
            if filter is not None and filter.status is not None
            else None
        )

        def wanted(event: Event) -> bool:
            return (
                event.owner_id is not None
                and policy.can_read_order(viewer, event.owner_id)
                and (user_id is None or event.owner_id == user_id)
                and (statuses is None or event.data.get("status") in statuses)
            )

        root = OrderEvent.from_event
        async for event in stream(info, topic="order", wanted=wanted, after=after, root=root):
            yield root(event)

    @strawberry.subscription(description="Changes to the catalog, stock included; public.")
    @coded
    async def product_events(
        self, info: Info, filter: ProductEventFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[ProductEvent, None]:
        ids = (
            {pk_of(value, "Product", argument="filter.ids") for value in filter.ids}
            if filter is not None and filter.ids is not None
            else None
        )
        stock_flips = filter is not None and filter.in_stock_changed is True

        def wanted(event: Event) -> bool:
            return (ids is None or event.entity_id in ids) and (
                not stock_flips or "inStock" in event.changed_fields
            )

        root = ProductEvent.from_event
        async for event in stream(info, topic="product", wanted=wanted, after=after, root=root):
            yield root(event)

    @strawberry.subscription(description="Changes to one user: yourself, or anyone for admins.")
    @coded
    async def user_events(
        self, info: Info, id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[UserEvent, None]:
        viewer = info.context.viewer
        policy.require_user(viewer, to="receive user events")
        user_id: uuid.UUID = pk_of(id, "User")
        if not policy.can_read_user(viewer, user_id):
            raise NotFound("No user with this id.", field="id")

        async for event in stream(
            info,
            topic="user",
            wanted=lambda event: event.entity_id == user_id,
            after=after,
            root=UserEvent.from_event,
        ):
            yield UserEvent.from_event(event)
