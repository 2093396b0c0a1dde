"""GET /export/<kind>.<format>: a download of what the kind's connection shows.

Who asks: the Authorization header, as for /graphql, or `?link=` from createExportLink
(then the link's filter and orderBy, and its signer's rights as they are now); see
app.web.requests. Query parameters other than `filter`, `orderBy` and `link` are refused.
Errors are app.web.errors' one body.

Streamed formats (app.exports.formats.Writer) read the rows in keyset batches of
EXPORT_BATCH_ROWS, each on a pooled connection held only while it is read; the first
batch is read before the response starts (so a database error is still a clean 503),
and each next one only once the previous was handed to the client's socket, so memory
stays flat whatever the size. A client that goes away cancels the walk at once, a
statement in flight included. A document (PDF) is read whole in one snapshot, capped,
and drawn off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import strawberry
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.auth.viewer import Viewer
from app.db.engine import connect
from app.errors import BadInput, LinkInvalid, NotFound
from app.exports.arguments import PARAMETERS, arguments_for, from_text
from app.exports.formats import Document, Writer, formats_of, writer_for
from app.exports.kinds import KINDS, Kind
from app.queries.keyset import Ordering, Position, Window
from app.web.errors import answering
from app.web.requests import LINK, caller_of, refuse_unknown_parameters
from app.web.streams import until_gone

log = logging.getLogger("app.exports")

PURPOSE = "export"
TAKES = (
    "an export takes `filter` and `orderBy`, each as JSON in the shape of the kind's "
    "connection arguments, or a signed `link` from createExportLink."
)


class Streams:
    """Exports being streamed by this process (for /metrics and the tests)."""

    active = 0
    rows = 0


def download_headers(filename: str, *, disposition: str = "attachment") -> dict[str, str]:
    """The headers of every download (exports, reports, invoices)."""
    return {
        "content-disposition": f'{disposition}; filename="{filename}"',
        # Personal data: kept by no shared cache, and by the browser only while shown.
        "cache-control": "private, no-store",
        "x-content-type-options": "nosniff",
    }


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

    async def respond(self, request: Request) -> Response:
        name, format = request.path_params["kind"], request.path_params["format"]
        kind, writer = KINDS.get(name), writer_for(name, format)
        if kind is None or writer is None:
            there = (
                f"{name} exports as {', '.join(formats_of(name))}"
                if kind is not None
                else f"Kinds: {', '.join(KINDS)}; formats: csv, ndjson, json (orders: pdf too)"
            )
            raise NotFound(f"No export /export/{name}.{format}. {there}.")
        refuse_unknown_parameters(request, known=(*PARAMETERS, LINK), takes=TAKES)
        query = request.query_params
        if LINK in query and any(argument in query for argument in PARAMETERS):
            raise BadInput(
                "A signed link carries its own filter and orderBy; drop them from the URL "
                "or ask for a new link.",
                field="filter",
            )
        caller = await caller_of(request, purpose=PURPOSE, check=_same_export(name, format))
        given = caller.signed
        if given is None:
            given = {arg: from_text(query.get(arg), argument=arg) for arg in PARAMETERS}
        filter, order_by = given.get("filter"), given.get("orderBy")
        where, ordering = self.arguments.parse(kind, filter=filter, order_by=order_by)
        visible = kind.listing.restrict(caller.viewer, where)
        if isinstance(writer, Document):
            return await _document(request, kind, writer, caller.viewer, visible, ordering)
        batches = walk(
            request.app.state.reader,
            kind,
            where=kind.listing.conditions(visible),
            ordering=ordering,
            size=request.app.state.settings.export_batch_rows,
        )
        first = await anext(batches)
        return ExportResponse(kind, writer, _prepend(first, batches))


def _same_export(name: str, format: str) -> Callable[[dict[str, Any]], None]:
    """Refuses a link signed for another export (before it is used up)."""

    def check(params: dict[str, Any]) -> None:
        signed = (params.get("kind"), params.get("format"))
        if signed != (name, format):
            raise LinkInvalid(
                f"This link is for /export/{signed[0]}.{signed[1]}, not /export/{name}.{format}."
            )

    return check


async def _document(
    request: Request,
    kind: Kind,
    writer: Document[Any],
    viewer: Viewer,
    where: Any,
    ordering: Ordering,
) -> Response:
    state = request.app.state
    # One snapshot: a report's totals and its rows are of the same moment.
    async with connect(_snapshot(state.engine)) as conn, conn.begin():
        loaded = await writer.load(
            conn,
            viewer=viewer,
            where=where,
            ordering=ordering,
            max_rows=writer.max_rows(state.settings),
        )
    # Drawn after the connection went back to the pool: 5,000 rows take seconds.
    body = await asyncio.to_thread(writer.draw, loaded)
    return Response(
        body, media_type=writer.media_type, headers=download_headers(_filename(kind, writer))
    )


def _snapshot(engine: AsyncEngine) -> AsyncEngine:
    return engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)


def _filename(kind: Kind, writer: Writer | Document[Any]) -> str:
    return f"{kind.name}-{datetime.now(UTC).date().isoformat()}.{writer.format}"


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
        self.chunks = writer.render(kind, batches)
        super().__init__(
            self.chunks,
            media_type=writer.media_type,
            headers=download_headers(_filename(kind, writer)),
        )
        self.kind = kind
        self.batches = batches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        Streams.active += 1
        try:
            # Headers out, a failure ends the stream unfinished (no last chunk), which
            # HTTP clients report as an error; the log says why.
            await until_gone(self._pump(send), receive, log=log, what=f"export of {self.kind.name}")
        finally:
            Streams.active -= 1

    async def _pump(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        # Both closed at once when the client leaves: the walk stops where it is.
        async with contextlib.aclosing(self.batches), contextlib.aclosing(self.chunks) as chunks:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def export_routes(schema: strawberry.Schema) -> list[Route]:
    """The export routes, for create_app."""
    exports = Exports(schema)
    return [Route("/export/{kind}.{format}", answering(exports.respond), methods=["GET"])]


__all__ = ["Streams", "download_headers", "export_routes", "walk"]
