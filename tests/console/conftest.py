"""A real server on its own seeded database, and the browser script that drives it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.seed import ADMIN_EMAIL, SeedSpec, seed
from tests import postgres
from tests.conftest import token_for
from tests.events.conftest import Server, start_server, stop_server
from tests.events.node import node_or_skip
from tests.redis_server import find_redis

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "console_e2e.mjs"
CHROMIUM = "/usr/bin/chromium"
# More PAID and PENDING orders than one page (25), so scrolling is tested.
DATA = SeedSpec(users=30, orders_per_user=4, items_per_order=2, products=60, seed=17)
USER_EMAIL = "user000003@example.com"


def chromium_or_skip() -> str:
    """Debian's Chromium (`make test` installs it when run as root), else a skip."""
    path = os.environ.get("CHROMIUM", CHROMIUM)
    if not Path(path).is_file():
        reason = f"no Chromium at {path}: apt-get install -y chromium (make test does, as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return path


@dataclass
class Console:
    server: Server
    admin: str
    user: str
    shots: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


def screenshots_dir(tmp: Path) -> Path:
    """CONSOLE_SCREENSHOTS=docs/console keeps them (the README's come from there)."""
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    return shots


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with find_redis() as url:
        yield url


@pytest.fixture(scope="module")
async def console(
    server_url: str, template_db: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Console]:
    name = postgres.unique_name("console")
    url = await postgres.create_database(server_url, name, template=template_db)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await seed(conn, DATA)
        await engine.dispose()
        admin = await token_for(url, ADMIN_EMAIL)
        user = await token_for(url, USER_EMAIL)
        tmp = tmp_path_factory.mktemp("console")
        shots = screenshots_dir(tmp)
        server = start_server(url, redis_url, tmp / "server.log")
        try:
            yield Console(server, admin, user, shots)
        finally:
            stop_server(server)
    finally:
        await engine.dispose()
        await postgres.drop_database(server_url, name)


@dataclass
class Run:
    checks: dict[str, Any]
    figures: dict[str, Any]


def run_scenario(console: Console, scenario: str) -> Run:
    """Runs one scenario of console_e2e.mjs; fails with its report (and screenshot path)."""
    node = node_or_skip()
    chromium = chromium_or_skip()
    if not (NODE_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip("playwright-core is not installed: npm ci --prefix tests/node")
    env = {
        **os.environ,
        "BASE_URL": console.base,
        "ADMIN_TOKEN": console.admin,
        "USER_TOKEN": console.user,
        "SHOTS": str(console.shots),
        "CHROMIUM": chromium,
    }
    done = subprocess.run(
        [node, str(SCRIPT), scenario],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=NODE_DIR,
    )
    lines = [orjson.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    report = "\n".join(done.stdout.splitlines()[-15:]) + "\n" + done.stderr[-2000:]
    failure = console.shots / f"{scenario}-failure.png"
    assert done.returncode == 0, f"{scenario} failed (screenshot: {failure}):\n{report}"
    end = next(line for line in lines if line["kind"] == "done")
    # Only loopback: no CDN, no font service, nothing else was even asked for.
    assert end["external"] == [], end["external"]
    # No script errors and no Content-Security-Policy violations in the page.
    assert end["problems"] == [], end["problems"]
    checks = {line["name"]: line for line in lines if line["kind"] == "check"}
    assert checks, report
    assert all(check["ok"] for check in checks.values()), report
    figures = {line["name"]: line["value"] for line in lines if line["kind"] == "figure"}
    for figure, value in figures.items():
        print(f"{figure}: {value}")
    return Run(checks, figures)


__all__ = ["Console", "Run", "chromium_or_skip", "run_scenario"]
