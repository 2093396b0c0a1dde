"""The runner: dry runs, one runner at a time, the audited audit purge, the server's
schedule and the command."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.retention.classes import RetentionClass
from app.retention.runner import run_retention
from app.retention.schedule import RetentionSchedule
from tests.dbtools import fetch_all, fetch_value
from tests.retention.conftest import OLD_AUDIT, execute, execute_url, rows, run, settings_for

ORDERGRAPH = [sys.executable, "-m", "app.cli"]
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
OLD = "SELECT count(*) FROM audit_events WHERE occurred_at < now() - interval '30 days'"


async def test_a_dry_run_deletes_nothing_and_counts_what_a_run_would(
    db: AsyncEngine, small_url: str
) -> None:
    await execute(db, OLD_AUDIT, days=40, n=5)
    total = await fetch_value(small_url, "SELECT count(*) FROM audit_events")

    dry = await run(db, small_url, audit_retention_days=30, dry_run=True)

    assert dry.dry_run
    assert rows(dry)["audit_events"] == 5
    assert await fetch_value(small_url, "SELECT count(*) FROM audit_events") == total
    assert rows(await run(db, small_url, audit_retention_days=30))["audit_events"] == 5


async def test_one_runner_at_a_time_the_other_skips_its_turn(
    db: AsyncEngine, small_url: str
) -> None:
    await execute(db, OLD_AUDIT, days=40, n=10)
    settings = settings_for(small_url, audit_retention_days=30, retention_batch_size=2)
    mid_run, carry_on = asyncio.Event(), asyncio.Event()

    async def hold(cls: RetentionClass, deleted: int) -> None:
        mid_run.set()
        await carry_on.wait()

    first = asyncio.create_task(run_retention(db, settings, progress=hold))
    await asyncio.wait_for(mid_run.wait(), 30)
    second = await run_retention(db, settings)
    carry_on.set()
    done = await first

    assert second is None
    assert done is not None
    assert rows(done)["audit_events"] == 10
    # The lock went with the first run: the next one runs.
    assert await run_retention(db, settings) is not None


async def test_purging_audit_events_is_itself_audited(db: AsyncEngine, small_url: str) -> None:
    await execute(db, OLD_AUDIT, days=40, n=5)

    result = await run(db, small_url, audit_retention_days=30, retention_batch_size=2)

    [audit] = [item for item in result.results if item.cls.name == "audit_events"]
    records = await fetch_all(
        small_url,
        "SELECT actor_kind, entity_type, entity_id, changes FROM audit_events "
        "WHERE action = 'audit.purged' ORDER BY occurred_at",
    )
    assert [r.changes["deleted"]["after"] for r in records] == [2, 2, 1]
    assert {r.actor_kind for r in records} == {"system"}
    assert {r.entity_type for r in records} == {"RetentionRun"}
    assert len({r.entity_id for r in records}) == 1  # one run
    assert audit.cutoff is not None
    # PostgreSQL writes the time as text without trailing zeros: compare the instants.
    cutoffs = {datetime.fromisoformat(r.changes["olderThan"]["after"]) for r in records}
    assert cutoffs == {audit.cutoff}


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM audit_events WHERE occurred_at < now() - interval '30 days'",
        "UPDATE audit_events SET action = 'x' WHERE occurred_at < now() - interval '30 days'",
        "TRUNCATE audit_events",
        # From a function of one's own, and the purge itself when not called directly.
        """DO $$ BEGIN DELETE FROM audit_events; END $$""",
        """DO $$ BEGIN PERFORM purge_audit_events(now(), 10, gen_random_uuid(), 'cli'); END $$""",
    ],
)
async def test_old_audit_events_are_still_refused_to_anything_but_the_purge(
    db: AsyncEngine, small_url: str, statement: str
) -> None:
    await execute(db, OLD_AUDIT, days=40, n=3)
    total = await fetch_value(small_url, "SELECT count(*) FROM audit_events")

    with pytest.raises(DBAPIError, match="append-only"):
        await execute(db, statement)

    assert await fetch_value(small_url, "SELECT count(*) FROM audit_events") == total


async def test_the_purge_refuses_a_cutoff_in_the_future(db: AsyncEngine, small_url: str) -> None:
    with pytest.raises(DBAPIError, match="cutoff must be in the past"):
        await execute(
            db,
            "SELECT purge_audit_events(now() + interval '1 day', 10, gen_random_uuid(), 'cli')",
        )


async def test_the_server_runs_retention_on_its_schedule_and_stops_cleanly(
    small_url: str,
) -> None:
    await execute_url(small_url, OLD_AUDIT, days=40, n=4)
    app = create_app(settings_for(small_url, audit_retention_days=30, retention_every_seconds=0.2))
    async with app.router.lifespan_context(app):
        schedule: RetentionSchedule = app.state.retention
        async with asyncio.timeout(30):
            for _ in range(2):  # the second turn started after the first had finished
                await schedule.turned.wait()
                schedule.turned.clear()
    assert await fetch_value(small_url, OLD) == 0
    assert schedule.turns >= 2
    assert schedule.last is not None
    assert rows(schedule.last)["audit_events"] == 0  # the first turn had purged them
    task = [t for t in asyncio.all_tasks() if t.get_name() == "retention"]
    assert task == []  # stopped with the app, not left running


async def test_the_server_runs_no_retention_when_the_schedule_is_off(small_url: str) -> None:
    await execute_url(small_url, OLD_AUDIT, days=40, n=4)
    app = create_app(settings_for(small_url, audit_retention_days=30, retention_every_seconds=0))
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.5)
        assert app.state.retention.turns == 0
    assert await fetch_value(small_url, OLD) == 4


def test_the_command_prints_per_class_what_it_would_delete_then_deletes_it(
    small_url: str,
) -> None:
    asyncio.run(execute_url(small_url, OLD_AUDIT, days=40, n=6))
    env = {**os.environ, "DATABASE_URL": small_url, "AUDIT_RETENTION_DAYS": "30"}

    dry = subprocess.run(
        [*ORDERGRAPH, "retention", "run", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "dry run: nothing deleted" in dry.stdout
    assert "audit_events     would delete 6 older than" in dry.stdout
    assert "(AUDIT_RETENTION_DAYS=30)" in dry.stdout
    assert "events           would delete 0" in dry.stdout
    assert "signed_link_uses would delete 0" in dry.stdout
    assert asyncio.run(fetch_value(small_url, OLD)) == 6

    done = subprocess.run(
        [*ORDERGRAPH, "retention", "run"], env=env, capture_output=True, text=True, check=True
    )
    assert "audit_events     deleted 6 older than" in done.stdout
    assert asyncio.run(fetch_value(small_url, OLD)) == 0
    actor = "SELECT DISTINCT actor_kind FROM audit_events WHERE action = 'audit.purged'"
    assert asyncio.run(fetch_value(small_url, actor)) == "cli"


def test_the_readme_commands_run_as_written(small_url: str) -> None:
    section = README.split("## Retention\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, re.S)
    env = {**os.environ, "DATABASE_URL": small_url}
    for line in block.strip().splitlines():
        command = shlex.split(line.split("#", 1)[0])
        assert command[0] == ".venv/bin/ordergraph"
        done = subprocess.run(
            [*ORDERGRAPH, *command[1:]], env=env, capture_output=True, text=True, check=True
        )
        assert "audit_events" in done.stdout
