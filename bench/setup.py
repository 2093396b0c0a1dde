"""What every benchmark does first: pick the database, migrate, seed if empty, sign in."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

CLI = [sys.executable, "-m", "app.cli"]


@dataclass(frozen=True)
class Bench:
    env: dict[str, str]
    token: str

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]


def prepare(database_url: str | None, *seed_args: str) -> Bench:
    """Migrate the database (DATABASE_URL unless given), seed it with `seed_args` if it
    is empty, and make a day-long admin token for the run."""
    env = dict(os.environ)
    if database_url:
        env["DATABASE_URL"] = database_url
    if "DATABASE_URL" not in env:
        raise SystemExit("set DATABASE_URL or pass --database-url")
    subprocess.run([*CLI, "migrate"], env=env, check=True, capture_output=True)
    seeded = subprocess.run([*CLI, "seed", *seed_args], env=env, capture_output=True, text=True)
    if seeded.returncode not in (0, 2):  # 2: the database already has data
        raise SystemExit(seeded.stderr)
    return Bench(env=env, token=admin_token(env))


def admin_token(env: dict[str, str]) -> str:
    """A day-long API token for the seeded admin, made with `ordergraph token create`."""
    return subprocess.run(
        [
            *CLI,
            "token",
            "create",
            "--email",
            "admin@example.com",
            "--name",
            "bench",
            "--expires-in",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
