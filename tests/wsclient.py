"""A small graphql-transport-ws client for tests and benchmarks.

It refuses binary frames: the protocol's messages are JSON text, and a browser or the
reference graphql-ws client cannot read a binary one.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import orjson
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

_ids = itertools.count(1)


class BinaryFrame(AssertionError):
    """The server sent a binary frame where the protocol says text."""


def text_message(raw: str | bytes) -> dict[str, Any]:
    """A received frame's message; a binary frame fails the caller at once."""
    if isinstance(raw, bytes):
        raise BinaryFrame(f"the server sent a binary WebSocket frame: {raw[:200]!r}")
    message: dict[str, Any] = orjson.loads(raw)
    return message


class Session:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def receive(self, wait: float = 10) -> dict[str, Any]:
        """The next message that is not a ping/pong."""
        while True:
            message = text_message(await asyncio.wait_for(self.ws.recv(), wait))
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            if message["type"] != "pong":
                return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = str(next(_ids))
        await self.send(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
        return op_id

    async def next_data(self, op_id: str, wait: float = 10) -> dict[str, Any]:
        message = await self.receive(wait)
        assert message.get("id") == op_id, message
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data


@asynccontextmanager
async def connect(
    url: str,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    receive_buffer: int | None = None,
) -> AsyncIterator[Session]:
    """An initialised graphql-transport-ws session (connection_ack received).

    `receive_buffer` shrinks the socket's receive buffer: a client that stops reading
    then pushes back on the server at once, as a slow one on a real network would.
    """
    sock = None
    if receive_buffer is not None:
        parts = urlsplit(url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    async with websockets.connect(
        url,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers=headers or {},
        max_size=None,
        max_queue=4,
        # No WebSocket-level keepalive: a reader that stalls on purpose would not see the
        # pong behind the frames it leaves unread, and the library would close the socket
        # (1011) once a slow run passes ping_interval + ping_timeout.
        ping_interval=None,
        sock=sock,
    ) as ws:
        session = Session(ws)
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await session.send({"type": "connection_init", "payload": payload})
        ack = await session.receive()
        assert ack["type"] == "connection_ack", ack
        yield session
