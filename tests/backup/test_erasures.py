"""Restoring a backup taken before an erasure re-applies it: the hook (the `erased_users`
ledger and registered reappliers, here a stand-in one), and the real erasure of
app.privacy, which restore registers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.backup.dump import take_backup
from app.backup.erasures import register_reapplier, unregister_reapplier
from app.backup.restore import restore_backup
from app.db.engine import transaction
from app.errors import BackupError
from app.privacy.erasure import erase_user, pseudonym, reapply_erasure
from app.services.audit import CLI
from tests.backup.conftest import execute
from tests.backup.test_cli import clean_env, run
from tests.conftest import token_for
from tests.dbtools import fetch_all, fetch_value

PSEUDONYMISE = (
    "UPDATE users SET email = 'erased-' || id || '@invalid', name = 'erased' WHERE id = :id"
)


async def pseudonymise(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    await conn.execute(text(PSEUDONYMISE), {"id": user_id})


@pytest.fixture
def no_reapplier() -> Iterator[None]:
    """Without the privacy work's eraser, which importing restore installs."""
    unregister_reapplier(reapply_erasure)
    yield
    register_reapplier(reapply_erasure)


@pytest.fixture
def reapplier(no_reapplier: None) -> Iterator[None]:
    """Only the stand-in eraser above."""
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
    _, late = await two_users(source_url)
    await take_backup(source_url, out=tmp_path / "b.ogbackup", key=None)
    await erase(source_url, late)

    restored = await restore_backup(
        tmp_path / "b.ogbackup", url=bare_url, key=None, ledger_urls=[source_url]
    )

    assert [e.user_id for e in restored.reapplied] == [late]
    assert await email_of(bare_url, late) == f"erased-{late}@invalid"


@pytest.mark.usefixtures("no_reapplier")
async def test_erasures_with_no_eraser_installed_fail_loudly(
    source_url: str, tmp_path: Path
) -> None:
    _, late = await two_users(source_url)
    await take_backup(source_url, out=tmp_path / "b.ogbackup", key=None)
    await erase(source_url, late)
    with pytest.raises(BackupError) as caught:
        await restore_backup(tmp_path / "b.ogbackup", url=source_url, key=None, force=True)
    assert caught.value.code == "RESTORE_ERASURES_PENDING"
    # Refused before pg_restore: the erased address did not come back.
    assert await email_of(source_url, late) == f"erased-{late}@invalid"


async def test_restoring_a_backup_from_before_an_erasure_erases_the_user_again(
    source_url: str, tmp_path: Path
) -> None:
    _, user_id = await two_users(source_url)
    email = await email_of(source_url, user_id)
    name = await fetch_value(source_url, "SELECT name FROM users WHERE id = :id", id=user_id)
    token = await token_for(source_url, email)  # a token and its audit event
    await take_backup(source_url, out=tmp_path / "b.ogbackup", key=None)
    engine = create_async_engine(source_url)
    try:
        async with transaction(engine) as conn:
            await erase_user(conn, actor=CLI, user_id=user_id, confirm=None)
    finally:
        await engine.dispose()

    # The old data, person included, comes back; the erasure is re-applied at once. By
    # the command, in a process of its own: nothing but the restore path registers it.
    restore = await asyncio.to_thread(
        run, "restore", str(tmp_path / "b.ogbackup"), "--force", env=clean_env(source_url)
    )

    assert restore.returncode == 0, restore.stderr
    assert "1 erasure(s) re-applied" in restore.stderr + restore.stdout
    assert await email_of(source_url, user_id) == pseudonym(user_id).email
    for table, column in (("users", "email"), ("users", "name"), ("audit_events", "changes")):
        for value in (email, name):
            found = await fetch_value(
                source_url,
                f"SELECT count(*) FROM {table} WHERE {column}::text LIKE :v",
                v=f"%{value}%",
            )
            assert found == 0, (table, value)
    assert (
        await fetch_value(
            source_url,
            "SELECT count(*) FROM api_tokens WHERE user_id = :id AND revoked_at IS NULL",
            id=user_id,
        )
        == 0
    )
    assert token  # issued before the backup, revoked again by the re-applied erasure
    ledger = await fetch_all(source_url, "SELECT user_id FROM erased_users")
    assert [row[0] for row in ledger] == [user_id]
    actions = await fetch_all(
        source_url,
        "SELECT action FROM audit_events WHERE entity_id = :id "
        "AND action LIKE 'user.erasure%' ORDER BY occurred_at",
        id=user_id,
    )
    assert [row[0] for row in actions] == ["user.erasure_reapplied"]
