"""The reference graphql-ws client, run by Node from tests/node, as a pytest fixture."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SUBSCRIBE = NODE_DIR / "graphql_ws_subscribe.mjs"
MIN_NODE = 18


def node_or_skip() -> str:
    """The node executable; without a usable one (or its packages) the test skips with
    the reason, except under CI=true, where Node is installed and they must run."""
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "node is not on PATH"
    else:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if int(version.lstrip("v").split(".")[0]) < MIN_NODE:
            reason = f"node {version} is older than {MIN_NODE}"
        elif not (NODE_DIR / "node_modules" / "graphql-ws").is_dir():
            reason = "tests/node packages are not installed: npm ci --prefix tests/node"
    if reason is None:
        assert node is not None
        return node
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@dataclass
class NodeSubscription:
    """A running graphql_ws_subscribe.mjs and the lines it has printed."""

    process: asyncio.subprocess.Process
    lines: list[dict[str, Any]] = field(default_factory=list)

    async def until(self, kind: str, wait: float = 20) -> dict[str, Any]:
        """Read up to the next line of this kind; fails if the script ends first."""
        assert self.process.stdout is not None
        async with asyncio.timeout(wait):
            while True:
                raw = await self.process.stdout.readline()
                assert raw, f"the Node client ended before {kind!r}: {self.lines}"
                line: dict[str, Any] = orjson.loads(raw)
                self.lines.append(line)
                if line["kind"] == kind:
                    return line

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["kind"] == kind]

    async def done(self) -> dict[str, Any]:
        """The script's last line, once it has ended on its own."""
        line = await self.until("done")
        await asyncio.wait_for(self.process.wait(), 10)
        return line


@asynccontextmanager
async def node_subscribe(
    node: str,
    url: str,
    query: str,
    *,
    token: str | None = None,
    variables: dict[str, Any] | None = None,
    count: int = 1,
    linger_ms: int = 0,
    script: Path = SUBSCRIBE,
    extra: dict[str, Any] | None = None,
) -> AsyncIterator[NodeSubscription]:
    """Run one operation through a client script (graphql-ws's createClient with `ws` as
    its WebSocket unless `script` names another); the script ends after `count` results
    and `linger_ms` more, or when the server completes. `extra` goes to the script with
    the other options (graphql-sse's: `singleConnection`)."""
    options = {
        "url": url,
        "token": token,
        "query": query,
        "variables": variables or {},
        "count": count,
        "lingerMs": linger_ms,
        **(extra or {}),
    }
    process = await asyncio.create_subprocess_exec(
        node,
        str(script),
        orjson.dumps(options).decode(),
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield NodeSubscription(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
