"""The dispatcher for as long as the server runs (see app.main's lifespan)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.settings import Settings
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.payloads import Renderer

log = logging.getLogger(__name__)


@asynccontextmanager
async def running_webhooks(
    app: Starlette, settings: Settings, engine: AsyncEngine, renderer: Renderer
) -> AsyncIterator[None]:
    """app.state.webhooks: kick() it after queueing; off with WEBHOOK_DISPATCH=false."""
    if settings.webhook_allow_private:
        log.warning(
            "WEBHOOK_ALLOW_PRIVATE=true: webhooks may reach loopback, private and link-local "
            "addresses (cloud metadata included); keep it for tests and private networks"
        )
    dispatcher = Dispatcher(engine, settings, renderer)
    app.state.webhooks = dispatcher
    if not settings.webhook_dispatch:
        yield
        return
    task = asyncio.create_task(dispatcher.run(), name="webhooks")
    try:
        yield
    finally:
        dispatcher.stop()
        _, pending = await asyncio.wait([task], timeout=settings.webhook_timeout_seconds + 10)
        for left in pending:
            left.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
