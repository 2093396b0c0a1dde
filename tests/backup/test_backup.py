"""Backups against the real server: round trips, refusals, and damaged or foreign files."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

import pytest

from app.backup import pg
from app.backup.binaries import find_tool
from app.backup.container import HEAD, header_bytes, read_header
from app.backup.dump import take_backup
from app.backup.manifest import Manifest
from app.backup.restore import restore_backup, unpack
from app.errors import BackupError
from tests import postgres
from tests.backup.conftest import KEY, OTHER_KEY, contents, database, execute, flip
from tests.dbtools import fetch_value

SMALL_CHUNK = 1024  # so a small database makes a sealed file of many chunks


async def backup_of(url: str, out: Path, *, key: bytes | None = None) -> Manifest:
    _, manifest = await take_backup(url, out=out, key=key, chunk_size=SMALL_CHUNK)
    return manifest


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_round_trip_restores_every_table(
    server_url: str, source_url: str, tmp_path: Path, encrypted: bool
) -> None:
    """Seed, back up, drop the database, restore into a new one of the same name: every
    table holds what it held, row for row."""
    key = KEY if encrypted else None
    before = await contents(source_url)
    assert before["public.order_items"][0] > 0
    assert before["public.audit_events"][0] > 0
    out = tmp_path / "db.ogbackup"
    manifest = await backup_of(source_url, out, key=key)
    assert manifest.row_counts == {table: count for table, (count, _) in before.items()}
    assert manifest.schema_revision == await fetch_value(
        source_url, "SELECT version_num FROM alembic_version"
    )
    assert (manifest.encryption is not None) == encrypted
    if encrypted:
        assert b"admin@example.com" not in out.read_bytes()
    assert out.stat().st_mode & 0o077 == 0

    name = pg.database_name(source_url)
    await postgres.drop_database(server_url, name)
    await postgres.create_database(server_url, name)
    restored = await restore_backup(out, url=source_url, key=key)

    assert await contents(source_url) == before
    assert restored.replaced == []
    assert restored.reapplied == []


async def test_restore_refuses_a_non_empty_target_without_force(
    server_url: str, template_db: str, source_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "db.ogbackup"
    await backup_of(source_url, out)
    async with database(server_url, template=template_db) as target:
        await execute(
            target, "INSERT INTO products (sku, name, price, stock) VALUES ('KEEP-1', 'kept', 1, 1)"
        )
        before = await contents(target)
        with pytest.raises(BackupError) as caught:
            await restore_backup(out, url=target, key=None)
        assert caught.value.code == "RESTORE_TARGET_NOT_EMPTY"
        assert "--force" in caught.value.message
        assert await contents(target) == before


async def test_restore_with_force_replaces_everything_in_the_target(
    server_url: str, template_db: str, source_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "db.ogbackup"
    await backup_of(source_url, out)
    async with database(server_url, template=template_db) as target:
        await execute(target, "CREATE TABLE stray (id int)")
        await execute(target, "CREATE SCHEMA other")
        await execute(target, "CREATE TABLE other.stray (id int)")
        restored = await restore_backup(out, url=target, key=None, force=True)
        assert "public.stray" in restored.replaced
        assert await contents(target) == await contents(source_url)


async def test_a_plain_backup_with_a_changed_byte_fails_its_checksum(
    source_url: str, bare_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "db.ogbackup"
    await backup_of(source_url, out)
    data = out.read_bytes()
    with out.open("rb") as source:
        _, header = read_header(source)
    out.write_bytes(flip(data, len(header) + (len(data) - len(header)) // 2))
    with pytest.raises(BackupError) as caught:
        await restore_backup(out, url=bare_url, key=None)
    assert caught.value.code == "BACKUP_CORRUPT"
    assert "checksum mismatch" in caught.value.message
    assert await contents(bare_url) == {}  # nothing was restored


async def test_a_truncated_plain_backup_is_refused(
    source_url: str, bare_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "db.ogbackup"
    await backup_of(source_url, out)
    out.write_bytes(out.read_bytes()[:-100])
    with pytest.raises(BackupError) as caught:
        await restore_backup(out, url=bare_url, key=None)
    assert caught.value.code == "BACKUP_CORRUPT"
    assert await contents(bare_url) == {}


@pytest.fixture(scope="module")
def sealed_backup(tmp_path_factory: pytest.TempPathFactory, seeded_url: str) -> Path:
    """An encrypted backup of the shared seeded database, in many chunks."""
    out = tmp_path_factory.mktemp("sealed") / "db.ogbackup"
    asyncio.run(backup_of(seeded_url, out, key=KEY))
    return out


def test_an_encrypted_backup_unpacks_to_its_checksum(sealed_backup: Path, tmp_path: Path) -> None:
    manifest = unpack(sealed_backup, tmp_path / "dump", key=KEY)
    assert (tmp_path / "dump").stat().st_size == manifest.dump_bytes > 20 * SMALL_CHUNK


def test_the_wrong_key_is_a_clear_error(sealed_backup: Path, tmp_path: Path) -> None:
    with pytest.raises(BackupError) as caught:
        unpack(sealed_backup, tmp_path / "dump", key=OTHER_KEY)
    assert caught.value.code == "BACKUP_WRONG_KEY"


def test_an_encrypted_backup_without_a_key_asks_for_backup_key(
    sealed_backup: Path, tmp_path: Path
) -> None:
    with pytest.raises(BackupError) as caught:
        unpack(sealed_backup, tmp_path / "dump", key=None)
    assert caught.value.code == "BACKUP_KEY_MISSING"
    assert "BACKUP_KEY" in caught.value.message


def test_a_flipped_byte_anywhere_in_an_encrypted_backup_is_detected(
    sealed_backup: Path, tmp_path: Path
) -> None:
    data = sealed_backup.read_bytes()
    # The header's fields, the manifest, the salt, and 200 places through the chunks.
    places = [*range(HEAD.size + 40), *range(0, len(data), max(1, len(data) // 200)), len(data) - 1]
    damaged = tmp_path / "damaged.ogbackup"
    for at in sorted(set(places)):
        damaged.write_bytes(flip(data, at))
        with pytest.raises(BackupError):
            unpack(damaged, tmp_path / "dump", key=KEY)


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_a_truncated_encrypted_backup_is_detected(
    sealed_backup: Path, tmp_path: Path, keep: float
) -> None:
    data = sealed_backup.read_bytes()
    damaged = tmp_path / "cut.ogbackup"
    damaged.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(BackupError) as caught:
        unpack(damaged, tmp_path / "dump", key=KEY)
    assert caught.value.code == "BACKUP_CORRUPT"


def test_a_random_file_is_foreign(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(BackupError) as caught:
        unpack(junk, tmp_path / "dump", key=None)
    assert caught.value.code == "BACKUP_FOREIGN_FILE"
    assert "not an ordergraph backup" in caught.value.message


async def test_a_plain_pg_dump_is_foreign_and_says_to_use_pg_restore(
    seeded_url: str, tmp_path: Path
) -> None:
    tool = find_tool("pg_dump", min_major=15)
    dump = tmp_path / "plain.dump"
    await pg.run_tool(tool, ["-Fc", "-f", str(dump)], url=seeded_url)
    with pytest.raises(BackupError) as caught:
        unpack(dump, tmp_path / "dump", key=None)
    assert caught.value.code == "BACKUP_FOREIGN_FILE"
    assert "pg_restore" in caught.value.message


def test_a_damaged_manifest_is_corrupt(sealed_backup: Path, tmp_path: Path) -> None:
    data = bytearray(sealed_backup.read_bytes())
    data[HEAD.size] = ord("[")  # the manifest's opening brace
    damaged = tmp_path / "damaged.ogbackup"
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupError) as caught:
        unpack(damaged, tmp_path / "dump", key=KEY)
    assert caught.value.code == "BACKUP_CORRUPT"
    assert "manifest" in caught.value.message


async def test_restored_row_counts_are_checked_against_the_manifest(
    source_url: str, bare_url: str, tmp_path: Path
) -> None:
    """A plain backup's manifest is not sealed: one that lies about the counts is caught
    after pg_restore, by counting."""
    out = tmp_path / "db.ogbackup"
    manifest = await backup_of(source_url, out)
    data = out.read_bytes()
    header = header_bytes(manifest)
    counts = {**manifest.row_counts, "public.users": manifest.row_counts["public.users"] + 1}
    out.write_bytes(header_bytes(replace(manifest, row_counts=counts)) + data[len(header) :])
    with pytest.raises(BackupError) as caught:
        await restore_backup(out, url=bare_url, key=None)
    assert caught.value.code == "RESTORE_COUNTS_DIFFER"
    assert "public.users" in caught.value.message


def test_no_pg_dump_new_enough_names_the_version_needed() -> None:
    with pytest.raises(BackupError) as caught:
        find_tool("pg_dump", min_major=99)
    assert caught.value.code == "PG_TOOL_MISSING"
    assert "pg_dump 99 or newer is needed" in caught.value.message


def test_pg_bin_dir_is_the_only_place_looked_in_when_set(tmp_path: Path) -> None:
    with pytest.raises(BackupError) as caught:
        find_tool("pg_dump", min_major=15, bin_dir=tmp_path)
    assert f"PG_BIN_DIR ({tmp_path})" in caught.value.message
    debian = Path("/usr/lib/postgresql/15/bin")
    if not (debian / "pg_dump").exists():
        pytest.skip("Debian's PostgreSQL 15 binaries are not installed")
    assert find_tool("pg_dump", min_major=14, bin_dir=debian).path == debian / "pg_dump"


def test_the_oldest_suitable_pg_dump_is_chosen() -> None:
    """Debian's 15 for a 15 server; the embedded server's 16 for a 16 one."""
    chosen = find_tool("pg_dump", min_major=15)
    try:
        newer = find_tool("pg_dump", min_major=chosen.major + 1)
    except BackupError:
        pytest.skip(f"only pg_dump {chosen.major} here, no newer one to choose between")
    assert newer.major > chosen.major
    assert newer.path != chosen.path
