"""The subscribers of `make bench-subscribers`: one process holding many connections.

    python -m bench.subscriber_clients ws|sse PORT COUNT

Run by bench/subscribers.py, several at once, so no single client process is what the
figures measure. Each opens COUNT connections subscribed to productEvents (WebSocket,
graphql-transport-ws; or graphql-sse in distinct connections mode, one POST each),
prints `ready N` when all are open, then notes the wall-clock time of every frame the
moment it is read, doing nothing else with it. A line `stop SECONDS` on stdin asks for
the results: it waits until each connection has EVENTS messages or SECONDS pass, then
prints one JSON line: latencies (ms, from the event's occurredAt) and counts. Parsing
happens only then, off the measured path.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import datetime
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

SUBSCRIPTION = "subscription { productEvents { cursor type node { id sku stock } occurredAt } }"
# Opening thousands of connections at once overflows the listen backlog.
CONNECTING_AT_ONCE = 200


class Connection:
    """One subscriber: the frames it read, each with the time it was read."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, str | bytes]] = []


async def open_ws(port: int, opening: asyncio.Semaphore) -> ClientConnection:
    async with opening:
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
            max_size=None,
            ping_interval=None,
            open_timeout=120,
            # What browsers and the Node clients do: offer permessage-deflate.
            compression=None if os.environ.get("BENCH_WS_COMPRESSION") == "none" else "deflate",
        )
        await ws.send('{"type":"connection_init","payload":{}}')
        ack = orjson.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}
        await ws.send(orjson.dumps(subscribe).decode())
        return ws


async def read_ws(ws: ClientConnection, connection: Connection) -> None:
    frames, now = connection.frames, time.time
    try:
        async for raw in ws:
            frames.append((now(), raw))
    finally:
        await ws.close()


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_sse(port: int, opening: asyncio.Semaphore) -> Stream:
    async with opening:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = orjson.dumps({"query": SUBSCRIPTION})
        writer.write(
            b"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n"
            b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"event stream refused: {head[:300]!r}")
        if b"transfer-encoding: chunked" not in head.lower():
            raise RuntimeError("expected a chunked event stream")
        return reader, writer


async def read_sse(stream: Stream, connection: Connection) -> None:
    reader, writer = stream
    frames, now = connection.frames, time.time
    try:
        while data := await reader.read(65536):
            frames.append((now(), data))
    finally:
        writer.close()


def ws_events(frames: list[tuple[float, str | bytes]]) -> list[tuple[float, dict[str, object]]]:
    events = []
    for at, raw in frames:
        if isinstance(raw, bytes):
            raise RuntimeError(f"binary WebSocket frame: {raw[:100]!r}")
        message = orjson.loads(raw)
        if message.get("type") != "next":
            raise RuntimeError(f"unexpected message: {message}")
        events.append((at, message["payload"]))
    return events


def sse_events(frames: list[tuple[float, str | bytes]]) -> list[tuple[float, dict[str, object]]]:
    """Undo the chunked encoding, split the stream into events; each event gets the time
    of the read that completed it."""
    events = []
    raw = b""  # still chunk-encoded
    text = b""  # decoded, not yet a whole event
    for at, data in frames:
        assert isinstance(data, bytes)
        raw += data
        while True:
            size_end = raw.find(b"\r\n")
            if size_end < 0:
                break
            size = int(raw[:size_end].split(b";")[0], 16)
            if len(raw) < size_end + 2 + size + 2:
                break
            text += raw[size_end + 2 : size_end + 2 + size]
            raw = raw[size_end + 2 + size + 2 :]
        *blocks, text = text.split(b"\n\n")
        for block in blocks:
            lines = block.split(b"\n")
            if lines[0] == b"event: next":
                payload = b"".join(line[6:] for line in lines[1:] if line.startswith(b"data: "))
                events.append((at, orjson.loads(payload)))
    return events


def latencies(events: list[tuple[float, dict[str, object]]]) -> tuple[list[float], int]:
    """Milliseconds from each event's occurredAt to its arrival; and how many results
    carried errors instead."""
    found, errors = [], 0
    for at, payload in events:
        if payload.get("errors"):
            errors += 1
            continue
        data = payload["data"]
        assert isinstance(data, dict)
        occurred = datetime.fromisoformat(data["productEvents"]["occurredAt"]).timestamp()
        found.append((at - occurred) * 1000)
    return found, errors


async def main(transport: str, port: int, count: int) -> None:
    opening = asyncio.Semaphore(CONNECTING_AT_ONCE)
    opener: Any = open_ws if transport == "ws" else open_sse
    reader: Any = read_ws if transport == "ws" else read_sse
    parse = ws_events if transport == "ws" else sse_events
    opened = await asyncio.gather(
        *(opener(port, opening) for _ in range(count)), return_exceptions=True
    )
    failures = [repr(o) for o in opened if isinstance(o, BaseException)]
    connections = [Connection() for o in opened if not isinstance(o, BaseException)]
    live = [o for o in opened if not isinstance(o, BaseException)]
    tasks = [asyncio.create_task(reader(o, c)) for o, c in zip(live, connections, strict=True)]
    print(f"ready {len(connections)} {failures[:1]}", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    _, expected, timeout = line.split()
    deadline = time.monotonic() + float(timeout)
    pending = list(connections)
    while pending and time.monotonic() < deadline:
        # A read may hold several events, or part of one: count what parses.
        pending = [c for c in pending if len(parse(c.frames)) < int(expected)]
        await asyncio.sleep(0.2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    found: list[float] = []
    errors = 0
    for connection in connections:
        got, bad = latencies(parse(connection.frames))
        found += got
        errors += bad
    result = {"latencies": found, "errors": errors, "failed": len(failures)}
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
