"""The dispatcher: takes new events into endpoints' queues and delivers them.

Every instance runs one. Each turn it queues what the event log gained, then claims due
endpoints (as many as it has free slots) and works each in a task of its own: one
message at a time, in order, up to WEBHOOK_BATCH, then lets the endpoint go. A slow or
dead endpoint holds one slot and its own queue, never another endpoint's. Results are
written only while the instance still holds the endpoint; one that died mid-delivery
leaves its lease to run out, and the message is sent again (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth.viewer import Viewer
from app.db.engine import connect, transaction
from app.errors import ServiceUnavailable
from app.events.records import Event
from app.services import audit
from app.services.audit import Actor
from app.settings import Settings
from app.webhooks import metrics, queue, signing, ssrf, topics
from app.webhooks.payloads import Renderer, ping
from app.webhooks.sender import Answer, Sender

log = logging.getLogger(__name__)
SYSTEM = Actor(viewer=Viewer(role="admin"), kind="system")


def backoff(attempts: int, *, base: float, most: float) -> float:
    """Seconds before the next attempt after `attempts` failed ones: doubling, capped,
    with jitter (half fixed, half random) so endpoints that failed together spread out."""
    delay = min(most, base * float(1 << min(max(attempts - 1, 0), 40)))
    return delay / 2 + random.uniform(0, delay / 2)


class Dispatcher:
    def __init__(self, engine: AsyncEngine, settings: Settings, renderer: Renderer) -> None:
        self.engine = engine
        self.settings = settings
        self.renderer = renderer
        self.me = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.sender = Sender(
            connect_timeout=settings.webhook_connect_timeout_seconds,
            timeout=settings.webhook_timeout_seconds,
            keep_bytes=settings.webhook_response_bytes,
        )
        self.require_https = settings.environment == "production"
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._working: set[asyncio.Task[None]] = set()

    def kick(self) -> None:
        """Look now: new events arrived, or a message was queued."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll_seconds)
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    await self.step()
                except ServiceUnavailable:
                    log.debug("database unreachable; webhooks will retry")
                except Exception:
                    log.exception("webhook dispatch step failed; it will try again")
        finally:
            # Deliveries in flight finish (each is bounded by WEBHOOK_TIMEOUT_SECONDS).
            if self._working:
                await asyncio.wait(self._working, timeout=self.settings.webhook_timeout_seconds + 5)
            await self.sender.close()

    async def step(self) -> None:
        while True:
            async with transaction(self.engine) as conn:
                read = await queue.enqueue(conn)
            if read < 1000:
                break
        free = self.settings.webhook_concurrency - len(self._working)
        if free <= 0:
            return
        async with transaction(self.engine) as conn:
            claimed = await queue.claim(
                conn, me=self.me, lease=self.settings.webhook_lease_seconds, limit=free
            )
        for endpoint in claimed:
            task = asyncio.create_task(self._turn(endpoint), name=f"webhook-{endpoint.id}")
            self._working.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._working.discard(task)
        self.kick()

    async def _turn(self, endpoint: queue.Claimed) -> None:
        try:
            async with connect(self.engine) as conn:
                messages = await queue.pending(conn, endpoint.id, limit=self.settings.webhook_batch)
                found = await queue.events_at(
                    conn, [m.event_position for m in messages if m.event_position is not None]
                )
            for message in messages:
                if self._stop.is_set() or not await self._deliver(endpoint, message, found):
                    break
        except Exception:
            log.exception("webhook %s: delivery turn failed; it will be retried", endpoint.id)
        finally:
            with contextlib.suppress(Exception):
                async with transaction(self.engine) as conn:
                    await queue.release(conn, endpoint.id, me=self.me)

    async def _deliver(
        self, endpoint: queue.Claimed, message: queue.Pending, found: dict[int, Event]
    ) -> bool:
        """Send one message; True to go on with the endpoint's next one."""
        if message.event_position is None:
            body = ping(str(endpoint.id))
        else:
            event = found.get(message.event_position)
            if event is None:
                return await self._drop(endpoint, message, "the event is no longer in the log")
            if not topics.may_see(endpoint.owner, event):
                return await self._drop(endpoint, message, "the owner may not see this event")
            body = await self.renderer.render(event, document=endpoint.query, owner=endpoint.owner)
        answer = await self._post(endpoint, message, body)
        attempt = queue.Attempt(
            answer.status_code, answer.latency_ms, answer.snippet, answer.error, self.me
        )
        lease = self.settings.webhook_lease_seconds
        if answer.ok:
            metrics.ATTEMPTS.labels("delivered").inc()
            async with transaction(self.engine) as conn:
                return await queue.record_success(
                    conn, endpoint.id, message.id, attempt, lease=lease
                )
        metrics.ATTEMPTS.labels("failed").inc()
        metrics.FAILURES.labels("status" if answer.status_code else "transport").inc()
        async with transaction(self.engine) as conn:
            failure = await queue.record_failure(
                conn, endpoint.id, message.id, attempt, lease=lease
            )
            if failure is not None:
                await self._after_failure(conn, endpoint, message, failure)
        return False

    async def _post(self, endpoint: queue.Claimed, message: queue.Pending, body: bytes) -> Answer:
        started = time.perf_counter()
        try:
            target = ssrf.check_url(endpoint.url, require_https=self.require_https)
            address = await ssrf.resolve(target, allow_private=self.settings.webhook_allow_private)
        except ssrf.RefusedTarget as exc:
            latency = round((time.perf_counter() - started) * 1000)
            return Answer(None, latency, None, exc.message)
        headers = signing.headers(
            endpoint.secrets, message_id=message.message_id, timestamp=int(time.time()), body=body
        )
        return await self.sender.post(target, address, headers=headers, body=body)

    async def _after_failure(
        self,
        conn: AsyncConnection,
        endpoint: queue.Claimed,
        message: queue.Pending,
        failure: queue.Failure,
    ) -> None:
        settings = self.settings
        if failure.now - failure.failing_since >= timedelta(
            seconds=settings.webhook_disable_after_seconds
        ):
            reason = (
                f"every attempt failed for {settings.webhook_disable_after_seconds:g} s "
                "(WEBHOOK_DISABLE_AFTER_SECONDS)"
            )
            await queue.give_up(conn, endpoint.id, message.id, reason=reason, disable=True)
            await audit.record(
                conn,
                actor=SYSTEM,
                action="webhook.disabled",
                entity_type="Webhook",
                entity_id=endpoint.id,
                changes={"state": {"before": "active", "after": "disabled"}},
            )
            metrics.DISABLED.inc()
            log.warning("webhook %s disabled: %s", endpoint.id, reason)
            return
        delay = backoff(
            message.attempts + 1,
            base=settings.webhook_backoff_base_seconds,
            most=settings.webhook_backoff_max_seconds,
        )
        at = failure.now + timedelta(seconds=delay)
        breaker_until = None
        if failure.failures >= settings.webhook_breaker_failures:
            breaker_until = failure.now + timedelta(seconds=settings.webhook_breaker_open_seconds)
            at = max(at, breaker_until)
        await queue.retry_at(conn, endpoint.id, message.id, at=at, breaker_until=breaker_until)

    async def _drop(self, endpoint: queue.Claimed, message: queue.Pending, reason: str) -> bool:
        async with transaction(self.engine) as conn:
            await queue.give_up(conn, endpoint.id, message.id, reason=reason, disable=False)
        return True
