"""A real HTTP receiver on loopback, in a thread of its own: what endpoints see."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    started: float  # monotonic
    wall: float = field(default_factory=time.time)
    finished: float = 0.0

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """Answers `status(request)` (200 by default) after `delay` seconds; records every
    request, and any two with the same webhook-id in flight at once."""

    status: Callable[[Received], int] = lambda _: 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)
    port: int = 0
    _in_flight: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, and no Nagle: the headers and body of an answer are two writes,
            # which would otherwise wait for the peer's delayed ACK (~40 ms) each time.
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    time.monotonic(),
                )
                with receiver._lock:
                    count = receiver._in_flight.get(request.id, 0) + 1
                    receiver._in_flight[request.id] = count
                    if count > 1:
                        receiver.overlaps.append(request.id)
                try:
                    if receiver.delay:
                        time.sleep(receiver.delay)
                    code = receiver.status(request)
                    # The sender may be gone (killed mid-delivery): nobody to answer.
                    with contextlib.suppress(OSError):
                        self.send_response(code)
                        self.send_header("content-length", "2")
                        self.end_headers()
                        self.wfile.write(b"ok")
                finally:
                    request.finished = time.monotonic()
                    with receiver._lock:
                        receiver._in_flight[request.id] -= 1
                        receiver.received.append(request)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until `start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ok(self) -> list[Received]:
        """The requests answered 2xx... as recorded (status decided per request)."""
        with self._lock:
            return list(self.received)

    def ids(self) -> list[str]:
        with self._lock:
            return [request.id for request in self.received]
