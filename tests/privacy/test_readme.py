"""The README's Privacy operations run as written (the download script runs in
tests/test_readme.py, against what `make run` serves)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.dbtools import fetch_value
from tests.helpers import gid

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SECTION = README.split("## Privacy", 1)[1].split("\n## ", 1)[0]
OPERATIONS = re.findall(r"```graphql\n(.*?)```", SECTION, re.S)
CUSTOMER = "user000001@example.com"


def test_the_section_shows_the_four_operations() -> None:
    names = [re.search(r"(\w+)\(|\{ (\w+) \{", op.split("mutation", 1)[1]) for op in OPERATIONS]
    assert [next(g for g in m.groups() if g) for m in names if m] == [
        "exportMyData",
        "exportUserData",
        "eraseMyData",
        "eraseUser",
    ]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.splitlines()[0][:40])
async def test_privacy_operation_runs_as_written(papi: Api, operation: str) -> None:
    user_id = await fetch_value(papi.url, "SELECT id FROM users WHERE email = :e", e=CUSTOMER)
    api = papi if operation.startswith("# Admins") else await papi.as_user(CUSTOMER)
    variables = {"id": gid("User", user_id)} if "$id" in operation else None
    data = await api.data(operation, variables)
    [payload] = data.values()
    assert payload["errors"] == [], payload
    assert payload.get("url") or payload["user"]["email"].endswith("@erased.invalid")
