"""LOG_FORMAT=json: one JSON object per line from a real server, one line per operation
with its request id, operation, viewer, duration, statements and error codes, and no
credential or email address anywhere in the log."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson

from app.db.seed import ADMIN_EMAIL
from app.observability.logs import JsonFormatter, redact
from tests.dbtools import fetch_value
from tests.observability.conftest import Observed

LOOKUP = "query Lookup($id: ID!) { user(id: $id) { email } }"
ME = "query Me { viewer { id email } }"
PRIVATE = "someone.private@example.org"


async def post(observed: Observed, query: str, **variables: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"{observed.base}/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {observed.admin}"},
        )


async def lines_of(observed: Observed, operation: str) -> list[dict[str, Any]]:
    """The server's log lines, parsed (every one must be JSON), once `operation` logged."""
    for _ in range(100):
        observed.server.log.flush()
        text = observed.log.read_text()
        lines = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        if any(line.get("operation") == operation for line in lines):
            return lines
        await asyncio.sleep(0.1)
    raise AssertionError(observed.log.read_text())


async def test_each_operation_logs_one_json_line_with_its_fields(observed: Observed) -> None:
    response = await post(observed, ME)
    assert response.status_code == 200
    assert "errors" not in response.json()
    viewer = response.json()["data"]["viewer"]
    lines = await lines_of(observed, "Me")
    mine = [line for line in lines if line.get("operation") == "Me"]
    assert len(mine) == 1
    line = mine[0]
    assert line["logger"] == "ordergraph.operation"
    assert line["level"] == "info"
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["operation_type"] == "query"
    user_id = await fetch_value(
        observed.url, "SELECT id FROM users WHERE email = :e", e=ADMIN_EMAIL
    )
    assert line["viewer_id"] == str(user_id)
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0
    assert line["statements"] >= 1
    assert line["error_codes"] == []
    # The response had the viewer's email; the log does not.
    assert viewer["email"] == ADMIN_EMAIL


async def test_error_codes_are_logged_and_no_secret_or_email_is(observed: Observed) -> None:
    response = await post(observed, LOOKUP, id=PRIVATE)
    codes = [error["extensions"]["code"] for error in response.json()["errors"]]
    assert codes
    lines = await lines_of(observed, "Lookup")
    line = next(line for line in lines if line.get("operation") == "Lookup")
    assert line["error_codes"] == codes
    text = observed.log.read_text()
    for secret in (observed.admin, ADMIN_EMAIL, PRIVATE):
        assert secret not in text


def test_a_line_that_holds_a_credential_or_an_email_is_masked() -> None:
    record = logging.LogRecord(
        "app.x",
        logging.WARNING,
        __file__,
        1,
        "refused Authorization: Bearer %s for %s",
        ("og_abcdefghijklmnopqrstuvwxyz123456", "jane.doe@example.com"),
        None,
    )
    record.statement = "SELECT 1 -- eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    line = orjson.loads(JsonFormatter().format(record))
    assert "og_abcdefghijklmnopqrstuvwxyz" not in line["message"]
    assert "jane.doe" not in line["message"]
    assert "eyJ" not in line["statement"]
    assert redact("token og_abcdefghijklmnopqrstuvwxyz12 ok") == "token <secret> ok"
