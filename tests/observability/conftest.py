"""A real `ordergraph serve` with JSON logs and traces sent to a real OTLP/HTTP receiver."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import ADMIN_EMAIL, seed
from tests import postgres
from tests.conftest import SMALL, token_for
from tests.events.conftest import Server, start_server, stop_server
from tests.redis_server import find_redis


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver: every span posted to /v1/traces, decoded."""

    port: int
    spans: list[Span] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self) -> list[Span]:
        with self.lock:
            return list(self.spans)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            target = holder[0]
            with target.lock:
                target.paths.append(self.path)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        target.spans.extend(scope.spans)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(port=server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Observed:
    url: str
    server: Server
    admin: str
    log: Path
    receiver: Receiver

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@pytest.fixture(scope="module")
async def observed(
    server_url: str,
    template_db: str,
    receiver: Receiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Observed]:
    name = postgres.unique_name("observe")
    url = await postgres.create_database(server_url, name, template=template_db)
    log = tmp_path_factory.mktemp("observe") / "server.log"
    try:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await seed(conn, SMALL)
        await engine.dispose()
        admin = await token_for(url, ADMIN_EMAIL)
        with find_redis() as redis_url:
            server = start_server(
                url,
                redis_url,
                log,
                LOG_FORMAT="json",
                LOG_LEVEL="info",
                OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                # The SDK's own setting: send batches within 0.2 s, not 5.
                OTEL_BSP_SCHEDULE_DELAY="200",
            )
            try:
                yield Observed(url=url, server=server, admin=admin, log=log, receiver=receiver)
            finally:
                stop_server(server)
    finally:
        await postgres.drop_database(server_url, name)
