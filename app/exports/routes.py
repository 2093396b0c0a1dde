"""GET /export/<kind>.<format>: a streamed download of what the kind's connection shows.

Who asks: the Authorization header, as for /graphql, or `?link=` from createExportLink
(then the link's filter and orderBy, and its signer's rights as they are now). The rows
are read in keyset batches of EXPORT_BATCH_ROWS, each on a pooled connection held only
while it is read; the first batch is read before the response starts (so a database
error is still a clean 503), and each next one only once the previous was handed to the
client's socket, so memory stays flat whatever the size. A client that goes away
cancels the walk at once, a statement in flight included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import strawberry
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.auth.signed_links import SignedLinks
from app.auth.viewer import Viewer
from app.db.engine import connect
from app.errors import (
    BadInput,
    Forbidden,
    LinkExpired,
    LinkInvalid,
    LinkRefused,
    LinkUsed,
    NotFound,
    OrdergraphError,
    ServiceUnavailable,
    TryAgain,
    Unauthenticated,
)
from app.exports.arguments import arguments_for, from_text
from app.exports.formats import Writer, writer_for
from app.exports.kinds import KINDS, Kind
from app.queries.keyset import Ordering, Position, Window

log = logging.getLogger("app.exports")

PURPOSE = "export"
STATUS = {
    BadInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    LinkInvalid: 403,
    NotFound: 404,
    LinkExpired: 410,
    LinkUsed: 410,
    ServiceUnavailable: 503,
    TryAgain: 503,
}


class Streams:
    """Exports being streamed by this process (for /metrics and the tests)."""

    active = 0
    rows = 0


def error_response(error: OrdergraphError) -> Response:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field:
        body["field"] = error.field
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 500)
    response = Response(orjson.dumps(body), status, media_type="application/json")
    if status == 401:
        response.headers["www-authenticate"] = 'Bearer error="invalid_token"'
    return response


async def walk(
    engine: AsyncEngine,
    kind: Kind,
    *,
    where: Sequence[ColumnElement[bool]],
    ordering: Ordering,
    size: int,
) -> AsyncGenerator[list[list[Any]], None]:
    """Every matching row, a batch at a time, in the connection's order."""
    after: Position | None = None
    while True:
        window = Window(ordering=ordering, size=size, after=after)
        async with connect(engine) as conn:
            batch = await kind.batch(conn, where=where, window=window)
        Streams.rows += len(batch.rows)
        yield batch.rows
        if batch.last is None:
            return
        after = batch.last


class Exports:
    """The endpoint; `schema` is the one /graphql serves, whose inputs it reuses."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self.arguments = arguments_for(schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.respond(request)
        except OrdergraphError as exc:
            response = error_response(exc)
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        name, format = request.path_params["kind"], request.path_params["format"]
        kind, writer = KINDS.get(name), writer_for(name, format)
        if kind is None or writer is None:
            raise NotFound(
                f"No export /export/{name}.{format}. Kinds: {', '.join(KINDS)}; formats: "
                "csv, ndjson, json."
            )
        state = request.app.state
        query = request.query_params
        link = query.get("link")
        if link is not None:
            viewer, filter, order_by = await self._redeem(state.links, link, name, format, query)
        else:
            viewer = await state.authenticator.viewer(request.headers.get("authorization"))
            filter = from_text(query.get("filter"), argument="filter")
            order_by = from_text(query.get("orderBy"), argument="orderBy")
        where, ordering = self.arguments.parse(kind, filter=filter, order_by=order_by)
        conditions = kind.conditions(kind.restrict(viewer, where))
        batches = walk(
            state.reader,
            kind,
            where=conditions,
            ordering=ordering,
            size=state.settings.export_batch_rows,
        )
        first = await anext(batches)
        return ExportResponse(kind, writer, _prepend(first, batches))

    async def _redeem(
        self, links: SignedLinks, token: str, name: str, format: str, query: Any
    ) -> tuple[Viewer, object, object]:
        if "filter" in query or "orderBy" in query:
            raise BadInput(
                "A signed link carries its own filter and orderBy; drop them from the URL "
                "or ask for a new link.",
                field="filter",
            )

        def same_export(params: dict[str, Any]) -> None:
            signed = (params.get("kind"), params.get("format"))
            if signed != (name, format):
                raise LinkInvalid(
                    f"This link is for /export/{signed[0]}.{signed[1]}, not "
                    f"/export/{name}.{format}."
                )

        grant = await links.redeem(token, purpose=PURPOSE, check=same_export)
        return grant.viewer, grant.params.get("filter"), grant.params.get("orderBy")


async def _prepend(
    first: list[list[Any]], rest: AsyncGenerator[list[list[Any]], None]
) -> AsyncGenerator[list[list[Any]], None]:
    async with contextlib.aclosing(rest):
        yield first
        async for batch in rest:
            yield batch


class ExportResponse(StreamingResponse):
    """Streams `writer`'s bytes; stops (closing the walk) as soon as the client leaves."""

    def __init__(
        self, kind: Kind, writer: Writer, batches: AsyncGenerator[list[list[Any]], None]
    ) -> None:
        filename = f"{kind.name}-{datetime.now(UTC).date().isoformat()}.{writer.format}"
        self.chunks = writer.render(kind, batches)
        super().__init__(
            self.chunks,
            media_type=writer.media_type,
            headers={
                "content-disposition": f'attachment; filename="{filename}"',
                "cache-control": "no-store",
                "x-content-type-options": "nosniff",
            },
        )
        self.kind = kind
        self.batches = batches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        Streams.active += 1
        try:
            pump = asyncio.create_task(self._pump(send))
            gone = asyncio.create_task(_disconnected(receive))
            try:
                await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (pump, gone):
                    task.cancel()
                await asyncio.gather(pump, gone, return_exceptions=True)
            failure = None if pump.cancelled() else pump.exception()
            if failure is not None and not isinstance(failure, OSError):
                # Headers are out: the stream ends unfinished (no last chunk), which HTTP
                # clients report as an error; the log says why.
                log.error("export of %s failed", self.kind.name, exc_info=failure)
        finally:
            Streams.active -= 1

    async def _pump(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        # Both closed at once when the client leaves: the walk stops where it is.
        async with contextlib.aclosing(self.batches), contextlib.aclosing(self.chunks) as chunks:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def export_routes(schema: strawberry.Schema) -> list[Route]:
    """The export routes, for create_app."""
    return [Route("/export/{kind}.{format}", Exports(schema), methods=["GET"])]


__all__ = ["LinkRefused", "Streams", "export_routes", "walk"]
