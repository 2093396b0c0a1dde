"""GraphQL over Server-Sent Events (the graphql-sse protocol), in both of its modes.

    streams.py    the wire format, request parameters and per-caller stream slots
    distinct.py   distinct connections mode: one request, one operation, one stream
    single.py     single connection mode: a reserved stream that carries many
                  operations, each posted (and stopped) by its own request
    reservations.py   single connection mode's reservations and their registry

`serve` picks the mode: a PUT or DELETE, or any request naming a reservation token, is
single connection mode; a GET or POST that accepts text/event-stream without a token is
distinct connections mode; anything else is plain GraphQL over HTTP (None).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import Receive, Send

from app.graphql.sse import distinct, single
from app.graphql.sse.reservations import Reservations
from app.graphql.sse.streams import EVENT_STREAM, StreamSlots, TooManyStreams, wants_event_stream

if TYPE_CHECKING:
    from app.graphql.http import GraphQLApp


async def serve(
    view: GraphQLApp, request: Request, receive: Receive, send: Send, *, slots: StreamSlots
) -> bool:
    """Answer `request` if it is graphql-sse (True), else leave it alone (False).

    Raises HTTPException before any byte is sent; the caller turns it into the usual
    JSON error."""
    if single.applies(request):
        reservations: Reservations = request.app.state.sse_reservations
        await single.serve(view, request, receive, send, reservations=reservations, slots=slots)
        return True
    if wants_event_stream(request):
        await distinct.serve(view, request, receive, send, slots=slots)
        return True
    return False


__all__ = [
    "EVENT_STREAM",
    "Reservations",
    "StreamSlots",
    "TooManyStreams",
    "serve",
    "wants_event_stream",
]
