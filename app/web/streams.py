"""Streamed responses that stop the moment their client goes away.

uvicorn's `send` quietly does nothing once a client has left, so a response that only
writes never learns of it: the work would run to its end. Each streamed route runs its
work beside a watcher of `receive` instead, and whichever ends first ends the other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, NamedTuple

from starlette.types import Receive


async def disconnected(receive: Receive) -> None:
    """Return when the client goes away (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class Outcome(NamedTuple):
    finished: bool  # the work ran to its end without failing
    client_left: bool


async def until_gone(
    work: Coroutine[Any, Any, None],
    receive: Receive,
    *,
    log: logging.Logger,
    what: str,
    also: tuple[Coroutine[Any, Any, Any], ...] = (),
) -> Outcome:
    """Run `work` until it ends, the client leaves or one of `also` ends; cancel the
    others and wait for them (cancelling a stream's generator returns what it holds).
    A failure of `work` other than the client's socket going (OSError) is a bug: the
    stream just ends, and the log says why."""
    task = asyncio.create_task(work)
    gone = asyncio.create_task(disconnected(receive))
    tasks = {task, gone, *(asyncio.create_task(other) for other in also)}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for each in tasks:
            each.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    failure = None if task.cancelled() else task.exception()
    if failure is not None and not isinstance(failure, OSError):
        log.error("%s failed", what, exc_info=failure)
    finished = task.done() and not task.cancelled() and failure is None
    return Outcome(finished, (gone.done() and not gone.cancelled()) or isinstance(failure, OSError))
