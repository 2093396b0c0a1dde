"""Restoring a backup taken before an erasure re-applies it (the hook the privacy work
fills: an `erased_users` ledger and a registered reapplier)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.backup.dump import take_backup
from app.backup.erasures import register_reapplier, unregister_reapplier
from app.backup.restore import restore_backup
from app.errors import BackupError
from tests.backup.conftest import execute
from tests.dbtools import fetch_all, fetch_value

LEDGER = (
    "CREATE TABLE erased_users (user_id uuid PRIMARY KEY, "
    "erased_at timestamptz NOT NULL DEFAULT clock_timestamp())"
)
PSEUDONYMISE = (
    "UPDATE users SET email = 'erased-' || id || '@invalid', name = 'erased' WHERE id = :id"
)


async def pseudonymise(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    await conn.execute(text(PSEUDONYMISE), {"id": user_id})


@pytest.fixture
def reapplier() -> Iterator[None]:
    register_reapplier(pseudonymise)
    yield
    unregister_reapplier(pseudonymise)


async def erase(url: str, user_id: uuid.UUID) -> None:
    await execute(url, PSEUDONYMISE, id=user_id)
    await execute(url, "INSERT INTO erased_users (user_id) VALUES (:id)", id=user_id)


async def two_users(url: str) -> tuple[uuid.UUID, uuid.UUID]:
    rows = await fetch_all(url, "SELECT id FROM users WHERE role = 'user' ORDER BY id LIMIT 2")
    return rows[0][0], rows[1][0]


async def email_of(url: str, user_id: uuid.UUID) -> str:
    value: str = await fetch_value(url, "SELECT email FROM users WHERE id = :id", id=user_id)
    return value


@pytest.mark.usefixtures("reapplier")
async def test_restoring_over_the_live_database_reapplies_later_erasures(
    source_url: str, tmp_path: Path
) -> None:
    await execute(source_url, LEDGER)
    early, late = await two_users(source_url)
    await erase(source_url, early)  # in the backup already
    _, manifest = await take_backup(source_url, out=tmp_path / "b.ogbackup", key=None)
    late_email = await email_of(source_url, late)
    await erase(source_url, late)  # after the backup: only the live ledger knows

    restored = await restore_backup(tmp_path / "b.ogbackup", url=source_url, key=None, force=True)

    assert [e.user_id for e in restored.reapplied] == [late]
    assert restored.reapplied[0].erased_at > manifest.taken_at
    assert await email_of(source_url, late) == f"erased-{late}@invalid"
    assert await email_of(source_url, early) == f"erased-{early}@invalid"
    assert late_email != await email_of(source_url, late)
    ledger = await fetch_all(source_url, "SELECT user_id FROM erased_users ORDER BY erased_at")
    assert [row[0] for row in ledger] == [early, late]


@pytest.mark.usefixtures("reapplier")
async def test_restoring_elsewhere_reads_the_live_ledger(
    source_url: str, bare_url: str, tmp_path: Path
) -> None:
    await execute(source_url, LEDGER)
    _, late = await two_users(source_url)
    await take_backup(source_url, out=tmp_path / "b.ogbackup", key=None)
    await erase(source_url, late)

    restored = await restore_backup(
        tmp_path / "b.ogbackup", url=bare_url, key=None, ledger_urls=[source_url]
    )

    assert [e.user_id for e in restored.reapplied] == [late]
    assert await email_of(bare_url, late) == f"erased-{late}@invalid"


async def test_erasures_with_no_eraser_installed_fail_loudly(
    source_url: str, tmp_path: Path
) -> None:
    await execute(source_url, LEDGER)
    _, late = await two_users(source_url)
    await take_backup(source_url, out=tmp_path / "b.ogbackup", key=None)
    await erase(source_url, late)
    with pytest.raises(BackupError) as caught:
        await restore_backup(tmp_path / "b.ogbackup", url=source_url, key=None, force=True)
    assert caught.value.code == "RESTORE_ERASURES_PENDING"
    # Refused before pg_restore: the erased address did not come back.
    assert await email_of(source_url, late) == f"erased-{late}@invalid"
