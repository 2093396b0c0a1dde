"""The README documents what a user needs: the two commands first, every setting, and
examples that run as written against what `make run` serves."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.settings import Settings
from tests import postgres
from tests.redis_server import free_port

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
EXAMPLES = README.split("## Example queries", 1)[1].split("\n## ", 1)[0]
GRAPHQL_EXAMPLES = re.findall(r"```graphql\n(.*?)```", EXAMPLES, re.S)
SHELL_EXAMPLES = re.findall(r"```sh\n(.*?)```", EXAMPLES, re.S)
README_BASE = "http://127.0.0.1:8000"
ANY_ORDER = "{ orders(first: 1) { edges { node { id } } } }"


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert "make run" in first_block
    assert "make test" in first_block


def test_readme_documents_every_setting() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert missing == []


@dataclass(frozen=True)
class Served:
    base: str
    token: str

    def post(self, query: str, variables: dict[str, Any], *, signed_in: bool) -> Any:
        headers = {"authorization": f"Bearer {self.token}"} if signed_in else {}
        response = httpx.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=30,
        )
        return response.json()


@pytest.fixture(scope="module")
async def readme_db(server_url: str, template_db: str) -> AsyncIterator[str]:
    name = postgres.unique_name("readme")
    url = await postgres.create_database(server_url, name, template=template_db)
    try:
        yield url
    finally:
        await postgres.drop_database(server_url, name)


@pytest.fixture(scope="module")
def served(readme_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """What `make run` serves (demo data, and the admin token it prints), on a database
    and a port of its own."""
    port = free_port()
    data_dir = tmp_path_factory.mktemp("readme")
    log = data_dir / "serve.log"
    env = {**os.environ, "DATABASE_URL": readme_db, "DATA_DIR": str(data_dir), "PORT": str(port)}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--migrate", "--demo-data"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        token = re.search(r"Authorization: Bearer (og_\S+)", log.read_text())
        assert token, log.read_text()
        yield Served(base, token[1])
    finally:
        process.terminate()
        process.wait(30)


def _has_data(value: Any) -> bool:
    """Some leaf of the answer holds a value: the example found something."""
    if isinstance(value, dict):
        return any(_has_data(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_data(v) for v in value)
    return value is not None


def test_every_example_says_who_may_run_it() -> None:
    assert len(GRAPHQL_EXAMPLES) >= 4
    for example in GRAPHQL_EXAMPLES:
        assert example.startswith(("# Signed in.", "# Anyone may run this one.")), example


def _first_line(example: str) -> str:
    return next(line for line in example.splitlines() if not line.startswith("#"))[:30]


@pytest.mark.parametrize("example", GRAPHQL_EXAMPLES, ids=_first_line)
def test_graphql_example_runs_as_written(served: Served, example: str) -> None:
    """Run the way the README says: with the token when it says so, its variables."""
    signed_in = example.startswith("# Signed in.")
    variables: dict[str, Any] = {}
    if found := re.search(r"Variables: (\{.*\})", example.splitlines()[0]):
        variables = json.loads(found[1])
    for key, value in variables.items():
        if value == "<an order's id from the query above>":
            orders = served.post(
                "{ orders(first: 1) { edges { node { id } } } }", {}, signed_in=True
            )
            variables[key] = orders["data"]["orders"]["edges"][0]["node"]["id"]
    body = served.post(example, variables, signed_in=signed_in)
    assert "errors" not in body, body
    assert _has_data(body["data"]), body


def _shell_commands() -> list[str]:
    """The README's shell commands, continuation lines joined; not the TOKEN= line, which
    stands for the token make run printed."""
    joined = "\n".join(SHELL_EXAMPLES).replace("\\\n", " ")
    return [
        line
        for line in joined.splitlines()
        if line.strip() and not line.startswith(("#", "TOKEN="))
    ]


def test_the_http_examples_include_a_signed_in_one() -> None:
    commands = _shell_commands()
    assert any("$TOKEN" in command for command in commands)
    assert any("$TOKEN" not in command for command in commands)
    assert "TOKEN=" in "".join(SHELL_EXAMPLES)


@pytest.mark.parametrize("command", _shell_commands())
def test_http_example_runs_as_written(served: Served, command: str) -> None:
    assert command.startswith("curl "), command
    assert README_BASE in command, command
    result = subprocess.run(
        ["sh", "-c", command.replace(README_BASE, served.base)],
        env={**os.environ, "TOKEN": served.token},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body = json.loads(result.stdout)
    assert "errors" not in body, (shlex.split(command), body)
    assert _has_data(body["data"]), body


PRIVACY = README.split("## Privacy", 1)[1].split("\n## ", 1)[0]


def test_the_privacy_download_runs_as_written(served: Served) -> None:
    [script] = re.findall(r"```sh\n(.*?)```", PRIVACY, re.S)
    result = subprocess.run(
        ["sh", "-c", script.replace(README_BASE, served.base)],
        env={**os.environ, "TOKEN": served.token},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.startswith("ordergraph.personal-data/1 admin@example.com "), result
