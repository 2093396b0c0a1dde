"""The dispatcher: takes new events into endpoints' queues and delivers them.

Every instance runs one. Each turn it queues what the event log gained, then claims due
endpoints (as many as it has free slots) and works each in a task of its own: one
message at a time, in order, up to WEBHOOK_BATCH, then lets the endpoint go. A slow or
dead endpoint holds one slot and its own queue, never another endpoint's. Results are
written in batches, and only while the instance still holds the endpoint; one that died
mid-delivery leaves its lease to run out, and what it had not written is sent again (at
least once: receivers de-duplicate by `webhook-id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

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
# Delivered results wait at most this long before they are written (one transaction
# for all of them), so the deliveries view and the queue gauges stay current.
FLUSH_SECONDS = 1.0


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
        # The turns running here, and the endpoint each works on.
        self._working: dict[asyncio.Task[None], uuid.UUID] = {}

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
                await asyncio.wait(
                    list(self._working), timeout=self.settings.webhook_timeout_seconds + 5
                )
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
        since = time.monotonic()  # the leases start no earlier than this
        async with transaction(self.engine) as conn:
            claimed = await queue.claim(
                conn,
                me=self.me,
                lease=self.settings.webhook_lease_seconds,
                limit=free,
                busy=list(self._working.values()),
            )
        for endpoint in claimed:
            task = asyncio.create_task(self._turn(endpoint, since), name=f"webhook-{endpoint.id}")
            self._working[task] = endpoint.id
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._working.pop(task, None)
        self.kick()

    async def _turn(self, endpoint: queue.Claimed, since: float) -> None:
        """Deliver the endpoint's next messages in order until one fails. Results are
        written in batches (one transaction for many messages): at the end, before a
        failure is counted, every FLUSH_SECONDS, and always while the lease is still
        held by our own reckoning, so no POST can outlive it."""
        turn = _Turn(endpoint, held_until=since + self.settings.webhook_lease_seconds)
        try:
            async with connect(self.engine) as conn:
                messages = await queue.pending(conn, endpoint.id, limit=self.settings.webhook_batch)
                found = await queue.events_at(
                    conn, [m.event_position for m in messages if m.event_position is not None]
                )
            for message in messages:
                if self._stop.is_set() or not await self._deliver(turn, message, found):
                    break
        except Exception:
            log.exception("webhook %s: delivery turn failed; it will be retried", endpoint.id)
        finally:
            with contextlib.suppress(Exception):
                if turn.results:
                    await self._write(turn)
                async with transaction(self.engine) as conn:
                    await queue.release(conn, endpoint.id, me=self.me)

    async def _write(self, turn: _Turn) -> bool:
        """Write what the turn has gathered; False when the lease was lost."""
        lease = self.settings.webhook_lease_seconds
        started = time.monotonic()
        async with transaction(self.engine) as conn:
            held = await queue.record(conn, turn.endpoint.id, turn.results, me=self.me, lease=lease)
        turn.results.clear()
        turn.written(started, lease=lease)
        return held

    async def _deliver(self, turn: _Turn, message: queue.Pending, found: dict[int, Event]) -> bool:
        """Send one message; True to go on with the endpoint's next one."""
        endpoint = turn.endpoint
        if message.event_position is None:
            body = ping(str(endpoint.id))
        else:
            event = found.get(message.event_position)
            if event is None:
                turn.results.dropped.append((message.id, "the event is no longer in the log"))
                return True
            if not topics.may_see(endpoint.owner, event):
                turn.results.dropped.append((message.id, "the owner may not see this event"))
                return True
            body = await self.renderer.render(event, document=endpoint.query, owner=endpoint.owner)
        answer = await self._post(turn, message, body)
        if answer is None:
            return False  # the lease is gone: another instance may hold the endpoint
        attempt = queue.Attempt(
            answer.status_code,
            answer.latency_ms,
            answer.snippet,
            answer.error,
            self.me,
            datetime.now(UTC),
        )
        if answer.ok:
            metrics.ATTEMPTS.labels("delivered").inc()
            turn.results.delivered.append((message.id, attempt))
            return True
        metrics.ATTEMPTS.labels("failed").inc()
        metrics.FAILURES.labels("status" if answer.status_code else "transport").inc()
        lease = self.settings.webhook_lease_seconds
        async with transaction(self.engine) as conn:
            if turn.results and not await queue.record(
                conn, endpoint.id, turn.results, me=self.me, lease=lease
            ):
                return False
            failure = await queue.record_failure(
                conn, endpoint.id, message.id, attempt, lease=lease
            )
            if failure is not None:
                await self._after_failure(conn, endpoint, message, failure)
        turn.results.clear()  # written: only once the transaction has committed
        return False

    async def _post(self, turn: _Turn, message: queue.Pending, body: bytes) -> Answer | None:
        """POST the message; None (nothing sent) when the lease was lost. The lease is
        checked, and renewed with the results so far when a POST started now could
        outlive it, after the body is rendered and the address looked up (both may
        wait), right before the request: no POST runs past the lease."""
        endpoint = turn.endpoint
        started = time.perf_counter()
        try:
            target = ssrf.check_url(endpoint.url, require_https=self.require_https)
            address = await ssrf.resolve(target, allow_private=self.settings.webhook_allow_private)
        except ssrf.RefusedTarget as exc:
            latency = round((time.perf_counter() - started) * 1000)
            return Answer(None, latency, None, exc.message)
        if turn.due(self.settings.webhook_timeout_seconds) and not await self._write(turn):
            return None
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
            await queue.give_up(conn, endpoint.id, message.id, reason=reason)
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


class _Turn:
    """One claimed endpoint's turn: results not yet written, and until when (by this
    process's clock, reckoned from before the claim or the last renewal was sent) the
    lease is surely still ours."""

    __slots__ = ("endpoint", "held_until", "results", "written_at")

    def __init__(self, endpoint: queue.Claimed, *, held_until: float) -> None:
        self.endpoint = endpoint
        self.held_until = held_until
        self.results = queue.Results()
        self.written_at = time.monotonic()

    def due(self, timeout: float) -> bool:
        """Write before the next POST? When results have waited FLUSH_SECONDS, or when
        a POST started now (at most `timeout` long) could end after the lease."""
        now = time.monotonic()
        if now + timeout + 1 >= self.held_until:
            return True
        return bool(self.results) and now - self.written_at >= FLUSH_SECONDS

    def written(self, started: float, *, lease: float) -> None:
        self.held_until = started + lease
        self.written_at = time.monotonic()
