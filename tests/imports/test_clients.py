"""Imports through what users run, against real server processes: Python gql's multipart
upload (its httpx transport with upload_files=True) on one server while a gql
subscriber on the other sees the products arrive; and the `ordergraph import` command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gql import Client, FileVar, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.dbtools import fetch_all, fetch_value
from tests.events.conftest import Cluster

IMPORT = """mutation($file: Upload!) {
  importProducts(file: $file, mode: UPSERT) {
    created updated unchanged failed errors { code } } }"""
EVENTS = """subscription { productEvents { type node { sku stock } } }"""
SETTLE_SECONDS = 0.5


def csv_file(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("sku,name,price,stock\n" + "".join(row + "\n" for row in rows))
    return path


async def gql_upload(cluster: Cluster, path: Path, *, preflight: bool = True) -> Any:
    headers = {"authorization": f"Bearer {cluster.admin}"}
    if preflight:
        headers["apollo-require-preflight"] = "true"
    transport = HTTPXAsyncTransport(url=cluster.a.http, headers=headers, timeout=30)
    async with Client(transport=transport) as session:
        with path.open("rb") as f:
            request = GraphQLRequest(
                IMPORT, variable_values={"file": FileVar(f, content_type="text/csv")}
            )
            return await session.execute(request, upload_files=True)


async def test_a_gql_upload_on_a_is_seen_by_a_gql_subscriber_on_b(
    cluster: Cluster, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, "p.csv", ["gql-1,Oak desk,199.90,3", "gql-2,Lamp,19,4"])
    transport = WebsocketsTransport(
        url=cluster.b.ws, init_payload={"authorization": f"Bearer {cluster.admin}"}
    )
    async with Client(transport=transport) as subscriber:
        events = subscriber.subscribe(GraphQLRequest(EVENTS))
        first = asyncio.ensure_future(anext(events))
        await asyncio.sleep(SETTLE_SECONDS)
        result = await gql_upload(cluster, path)
        received = [(await asyncio.wait_for(first, 10))["productEvents"]]
        received.append((await asyncio.wait_for(anext(events), 10))["productEvents"])
        await events.aclose()
    assert result["importProducts"] == {
        "created": 2, "updated": 0, "unchanged": 0, "failed": 0, "errors": [],
    }  # fmt: skip
    assert sorted((e["type"], e["node"]["sku"], e["node"]["stock"]) for e in received) == [
        ("CREATED", "GQL-1", 3),
        ("CREATED", "GQL-2", 4),
    ]


async def test_a_gql_upload_without_a_preflight_header_is_refused(
    cluster: Cluster, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, "p.csv", ["csrf-1,Desk,1,1"])
    with pytest.raises(TransportQueryError, match="PREFLIGHT_REQUIRED"):
        await gql_upload(cluster, path, preflight=False)
    assert await fetch_value(cluster.url, "SELECT count(*) FROM products WHERE sku = 'CSRF-1'") == 0


def ordergraph(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": cluster.url, "LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "import", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_command_imports_as_the_admin_and_sums_up_in_one_line(
    cluster: Cluster, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, "p.csv", ["cli-1,Desk,10,1", "cli-2,Lamp,5,2"])
    done = await asyncio.to_thread(ordergraph, cluster, "products", str(path))
    assert done.returncode == 0, done.stderr
    # Not a terminal: no progress bar, one summary line.
    assert done.stderr == ""
    [line] = done.stdout.splitlines()
    assert line.startswith("products: imported 2 rows in ")
    assert "2 created, 0 updated, 0 unchanged, 0 failed" in line
    audit = await fetch_all(
        cluster.url,
        "SELECT a.actor_kind, u.email FROM audit_events a JOIN users u ON u.id = a.actor_id "
        "JOIN products p ON p.id = a.entity_id WHERE p.sku = 'CLI-1'",
    )
    assert [tuple(r) for r in audit] == [("cli", "admin@example.com")]


async def test_the_command_lists_bad_rows_and_exits_1_writing_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, "p.csv", ["clibad-1,Desk,10,1", "clibad-2,,5,-2"])
    done = await asyncio.to_thread(ordergraph, cluster, "products", str(path))
    assert done.returncode == 1
    assert "line 3, name: TOO_SHORT" in done.stderr
    assert "line 3, stock: TOO_SMALL" in done.stderr
    assert "nothing written" in done.stdout
    count = await fetch_value(cluster.url, "SELECT count(*) FROM products WHERE sku LIKE 'CLIBAD%'")
    assert count == 0


async def test_the_command_dry_run_writes_nothing(cluster: Cluster, tmp_path: Path) -> None:
    path = csv_file(tmp_path, "p.csv", ["clidry-1,Desk,10,1"])
    done = await asyncio.to_thread(ordergraph, cluster, "products", str(path), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "1 created" in done.stdout
    assert "(dry run)" in done.stdout
    count = await fetch_value(cluster.url, "SELECT count(*) FROM products WHERE sku = 'CLIDRY-1'")
    assert count == 0


async def test_the_command_refuses_to_act_as_a_user_who_is_not_an_admin(
    cluster: Cluster, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, "p.csv", ["cliuser-1,Desk,10,1"])
    done = await asyncio.to_thread(
        ordergraph, cluster, "products", str(path), "--as", "user000000@example.com"
    )
    assert done.returncode == 2
    assert "not an admin" in done.stderr
