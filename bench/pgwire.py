"""A counting TCP proxy in front of PostgreSQL: SQL statements and rows on the wire.

pg_stat_statements is not loaded everywhere, and a server's own counter misses what its
driver sends behind its back, so the bench reads the protocol itself. A statement is a
simple Query ('Q') or an extended-protocol Execute ('E') from the client; a row is a
DataRow ('D') from the server. Transaction control, session resets and empty pings are
counted apart as `control`. SSL and GSSAPI encryption requests are refused ('N') so the
rest of the conversation is plain text the proxy can read.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CONTROL = re.compile(
    r"\s*(;|$|begin\b|start\s+transaction\b|commit\b|rollback\b|end\b|savepoint\b|release\b"
    r"|reset\b|set\b|discard\b|close\b|unlisten\b|deallocate\b|select\s+pg_advisory_unlock_all)",
    re.IGNORECASE,
)


@dataclass
class Counts:
    statements: int = 0
    control: int = 0
    rows: int = 0
    texts: list[str] = field(default_factory=list)


def is_control(sql: str) -> bool:
    """Transaction control, session reset or an empty ping: not a statement that reads."""
    return _CONTROL.match(sql) is not None


class CountingProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; counts while `counting` is set."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.counting = False
        self.counts = Counts()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def reset(self) -> Counts:
        """Start counting afresh; returns what was counted until now."""
        counts, self.counts = self.counts, Counts()
        return counts

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_writer: asyncio.StreamWriter | None = None
        try:
            startup = await self._startup(reader, writer)
            if startup is None:
                return
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            up_writer.write(startup)
            connection = _Connection(self)
            await asyncio.gather(
                _pump(reader, up_writer, connection.from_client),
                _pump(up_reader, writer, connection.from_server),
            )
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            for stream in (writer, up_writer):
                if stream is not None:
                    stream.transport.abort()

    @staticmethod
    async def _startup(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes | None:
        """Answer encryption requests with 'N'; return the startup (or cancel) message."""
        while True:
            header = await reader.readexactly(8)
            length, code = struct.unpack("!ii", header)
            body = await reader.readexactly(length - 8)
            if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                writer.write(b"N")
                await writer.drain()
                continue
            return header + body


class _Connection:
    """One client's protocol state: which portal runs which statement text."""

    def __init__(self, proxy: CountingProxy) -> None:
        self.proxy = proxy
        self.statements: dict[bytes, str] = {}
        self.portals: dict[bytes, str] = {}
        self._client = bytearray()
        self._server = bytearray()

    def from_client(self, data: bytes) -> None:
        for kind, body in _messages(self._client, data):
            if kind == b"P":
                name, _, rest = body.partition(b"\0")
                self.statements[name] = rest.partition(b"\0")[0].decode(errors="replace")
            elif kind == b"B":
                portal, _, rest = body.partition(b"\0")
                self.portals[portal] = self.statements.get(rest.partition(b"\0")[0], "")
            elif kind == b"Q":
                self._statement(body.rstrip(b"\0").decode(errors="replace"))
            elif kind == b"E":
                self._statement(self.portals.get(body.partition(b"\0")[0], ""))

    def from_server(self, data: bytes) -> None:
        rows = sum(kind == b"D" for kind, _ in _messages(self._server, data))
        if self.proxy.counting:
            self.proxy.counts.rows += rows

    def _statement(self, sql: str) -> None:
        if not self.proxy.counting:
            return
        counts = self.proxy.counts
        if is_control(sql):
            counts.control += 1
        else:
            counts.statements += 1
            counts.texts.append(sql)


def _messages(buffer: bytearray, data: bytes) -> list[tuple[bytes, bytes]]:
    """Append `data` to `buffer` and take out every complete typed message."""
    buffer += data
    found: list[tuple[bytes, bytes]] = []
    start = 0
    while len(buffer) - start >= 5:
        (length,) = struct.unpack_from("!i", buffer, start + 1)
        end = start + 1 + length
        if end > len(buffer):
            break
        found.append((bytes(buffer[start : start + 1]), bytes(buffer[start + 5 : end])))
        start = end
    del buffer[:start]
    return found


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, observe: Callable[[bytes], None]
) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            observe(data)
            await writer.drain()
    writer.close()
