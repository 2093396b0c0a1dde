"""Hostile documents and bodies against a real server process: refused quickly, with a
code, and the worker stays responsive and stops when told to.

Real processes, so that a regression fails on a client timeout instead of hanging the
test run: a worker stuck in validation blocks its event loop, and an in-process client
on that loop could not time out.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db.seed import ADMIN_EMAIL
from tests.conftest import token_for
from tests.events.conftest import Server, start_server
from tests.redis_server import find_redis

# A generous bound for "answers instead of hanging": the bad documents took minutes.
ANSWER_WITHIN = 20.0
LIMIT = 1_048_576  # MAX_BODY_BYTES' default


def doubling(count: int, *, on: str = "Query", select: str = "__typename") -> str:
    """Fragments that each spread the next one twice: 2^count paths in ~50 bytes each."""
    parts = [f"fragment E{i} on {on} {{ {select} ...E{i + 1} ...E{i + 1} }}" for i in range(count)]
    return " ".join([*parts, f"fragment E{count} on {on} {{ {select} }}"])


def chain(count: int) -> str:
    parts = [f"fragment E{i} on Query {{ __typename ...E{i + 1} }}" for i in range(count)]
    return "{ ...E0 } " + " ".join([*parts, f"fragment E{count} on Query {{ __typename }}"])


def post(server: Server, document: str, **options: Any) -> dict[str, Any]:
    response = httpx.post(server.http, json={"query": document}, timeout=ANSWER_WITHIN, **options)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert "data" not in body or body["data"] is None, body
    [error] = body["errors"]
    assert "recursion" not in error["message"]
    return error  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def redis() -> Iterator[str]:
    with find_redis() as url:
        yield url


@pytest.fixture(scope="module")
def server(
    seeded_url: str, redis: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server with the default limits."""
    started = start_server(seeded_url, redis, tmp_path_factory.mktemp("limits") / "server.log")
    try:
        yield started
    finally:
        started.process.terminate()
        try:
            started.process.wait(30)
        except subprocess.TimeoutExpired:
            started.process.kill()  # a worker stuck in a document ignored SIGTERM
            started.process.wait()
        started.log.close()


def test_the_doubling_document_is_refused_quickly_with_a_code(server: Server) -> None:
    error = only_error(post(server, "{ ...E0 } " + doubling(30)))
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "2147483647 fields" in error["message"]
    assert "at most 20000" in error["message"]


@pytest.mark.parametrize("count", [200, 300, 540])
def test_long_fragment_chains_are_refused_with_a_code(server: Server, count: int) -> None:
    error = only_error(post(server, chain(count)))
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert f"nested {count + 2} deep" in error["message"]
    assert "at most 64" in error["message"]


def test_a_chain_within_the_nesting_limit_is_answered(server: Server) -> None:
    assert post(server, chain(60)) == {"data": {"__typename": "Query"}}


def test_aliases_in_doubling_fragments_are_counted_quickly(server: Server) -> None:
    document = "{ ...E0 } " + doubling(40, select="a: __typename")
    errors = post(server, document)["errors"]
    assert {error["extensions"]["code"] for error in errors} == {"GRAPHQL_VALIDATION_FAILED"}
    assert any(f"uses {2**41 - 1} aliases" in error["message"] for error in errors), errors


def test_a_worker_busy_with_a_doubling_document_answers_healthz_and_drains_on_sigterm(
    seeded_url: str, redis: str, tmp_path: Path
) -> None:
    """With the field and cost limits lifted the doubling document reaches execution: the executor
    merges each fragment once per selection set, and the look-ahead of `orders` (which
    loads items with their orders) looks through each fragment once, so it is answered,
    /healthz answers meanwhile, and SIGTERM lets the worker finish and exit."""
    document = "{ orders(first: 2) { edges { node { ...E0 } } } } " + doubling(
        30, on="Order", select="id items { quantity }"
    )
    # The cost limit would refuse it too (2^30 paths): off, so that it reaches execution.
    server = start_server(
        seeded_url, redis, tmp_path / "server.log", MAX_QUERY_FIELDS=str(2**62), MAX_QUERY_COST="0"
    )
    try:
        token = asyncio.run(token_for(seeded_url, ADMIN_EMAIL))
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(
                post, server, document, headers={"authorization": f"Bearer {token}"}
            )
            time.sleep(0.05)  # the document is in flight
            health = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=ANSWER_WITHIN)
            assert health.json() == {"status": "ok"}
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(ANSWER_WITHIN) == 0
            body = answer.result(ANSWER_WITHIN)
        assert "errors" not in body, body
        [first, _second] = body["data"]["orders"]["edges"]
        assert set(first["node"]) == {"id", "items"}
        assert first["node"]["items"][0]["quantity"] > 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
        server.log.close()


def _send_all_then_read(server: Server, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    """http.client writes the whole body before it reads a byte of the answer; with
    `Connection: close`, as urllib sends, the server closes once it has answered."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=ANSWER_WITHIN)
    try:
        connection.request(
            "POST", "/graphql", body=body, headers={**headers, "connection": "close"}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_an_oversized_body_sent_whole_gets_its_413(server: Server) -> None:
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * (5 * LIMIT) + b'"}'
    status, answer = _send_all_then_read(server, body, {"content-type": "application/json"})
    assert status == 413
    assert answer["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_an_oversized_chunked_body_is_413(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ __typename }", "pad": "'
        for _ in range(3 * LIMIT // 65_536):
            yield b"x" * 65_536
        yield b'"}'

    # No Content-Length: http.client sends an iterable with Transfer-Encoding: chunked.
    status, answer = _send_all_then_read(server, chunks(), {"content-type": "application/json"})
    assert status == 413
    assert answer["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert f"limited to {LIMIT} bytes" in answer["errors"][0]["message"]


def test_a_chunked_body_within_the_limit_is_answered(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ __typename }", '
        yield b'"variables": {}}'

    status, answer = _send_all_then_read(server, chunks(), {"content-type": "application/json"})
    assert (status, answer) == (200, {"data": {"__typename": "Query"}})


def test_a_client_expecting_100_continue_gets_the_413_without_sending(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_WITHIN) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {5 * LIMIT}\r\n".encode()
            + b"Expect: 100-continue\r\n\r\n"
        )
        answer = sock.recv(65_536)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in answer


def test_the_server_log_has_no_traceback(server: Server) -> None:
    """Every refusal above is a coded answer, not a crash (runs last in this module)."""
    log = Path(server.log.name).read_text()
    assert "Traceback" not in log, log
