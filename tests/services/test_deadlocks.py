"""Writes that lock the same rows: no deadlock from our own lock order, and the ones
PostgreSQL still aborts (40P01, 40001) are run again, or end as TRY_AGAIN."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.auth.authenticate import current_viewer
from app.auth.viewer import RequestMeta, Viewer
from app.db.engine import create_engine, transaction
from app.db.seed import seed
from app.errors import Conflict, TryAgain
from app.queries.users import UserRecord
from app.services.users import UserChanges, update_user
from app.services.writes import ATTEMPTS, acting, run_transaction
from app.settings import Settings
from tests.conftest import SMALL, Api
from tests.dbtools import fetch_all, fetch_one, fetch_value
from tests.graphql.mutations import UPDATE_USER
from tests.helpers import gid

USER = "SELECT id, role, version FROM users WHERE email = :e"


async def execute(url: str, *statements: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for sql in statements:
                await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture
async def small_url(empty_url: str) -> str:
    engine = create_async_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await seed(conn, SMALL)
    finally:
        await engine.dispose()
    return empty_url


@pytest.fixture
async def writer(small_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(Settings(), small_url)
    yield engine
    await engine.dispose()


async def two_users(url: str) -> list[Any]:
    return await fetch_all(url, "SELECT id, role, version FROM users ORDER BY email LIMIT 2")


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait for `condition`, for 10 s at most (a hang fails instead of blocking the run)."""
    for _ in range(1000):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("still not so after 10 s")


async def lock_waits(url: str) -> int:
    """How many sessions on this database wait for a lock right now."""
    count: int = await fetch_value(
        url,
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE NOT l.granted AND a.datname = current_database()",
    )
    return count


async def raw(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    await conn.execute("SET deadlock_timeout = '100ms'")
    await conn.execute("BEGIN")
    return conn


async def upgrade(conn: asyncpg.Connection, user_id: Any, first_lock: str) -> str:
    """The actor check's lock, then locked_row's FOR UPDATE, then commit: the outcome."""
    try:
        await conn.execute(f"SELECT 1 FROM users WHERE id = $1 {first_lock}", user_id)
        await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
    except asyncpg.PostgresError as exc:
        await conn.execute("ROLLBACK")
        return str(exc.sqlstate)
    await conn.execute("COMMIT")
    return "committed"


async def test_key_share_then_for_update_on_one_row_deadlocks_two_transactions(
    small_url: str,
) -> None:
    """The hazard in SQL: two transactions each hold KEY SHARE on a row, and each then
    wants FOR UPDATE on it (which conflicts with the other's KEY SHARE)."""
    user = (await two_users(small_url))[0]
    first, second = await raw(small_url), await raw(small_url)
    try:
        for conn in (first, second):
            await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE", user.id)
        waiting = asyncio.create_task(upgrade(first, user.id, ""))

        async def first_waits() -> bool:
            return await lock_waits(small_url) > 0

        await until(first_waits)
        outcomes = await asyncio.gather(waiting, upgrade(second, user.id, ""))
    finally:
        await first.close()
        await second.close()
    assert sorted(outcomes) == ["40P01", "committed"]


async def actor_check_lock(url: str, viewer: Viewer) -> str:
    """The row lock clause of the statement the actor check really sends."""
    engine = create_engine(Settings(), url)
    sent: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: sent.append(statement),
    )
    try:
        async with transaction(engine) as conn:
            await current_viewer(conn, viewer)
    finally:
        await engine.dispose()
    [lock] = [s[s.index(" FOR ") + 1 :] for s in sent if " FOR " in s]
    return lock


async def test_the_actor_check_lock_conflicts_with_itself_so_self_writes_queue(
    small_url: str,
) -> None:
    """Why the deadlock above is not what two self-updates do: SQLAlchemy renders
    with_for_update(key_share=True) as FOR NO KEY UPDATE, not FOR KEY SHARE. That lock
    conflicts with itself, so the second write waits at its actor check and never holds
    a lock the first one's FOR UPDATE would wait for."""
    user = (await two_users(small_url))[0]
    lock = await actor_check_lock(small_url, Viewer(user_id=user.id, role=user.role))
    assert lock == "FOR NO KEY UPDATE"
    first, second = await raw(small_url), await raw(small_url)
    try:
        await first.execute(f"SELECT 1 FROM users WHERE id = $1 {lock}", user.id)
        waiting = asyncio.create_task(upgrade(second, user.id, lock))

        async def second_waits() -> bool:
            return await lock_waits(small_url) > 0

        await until(second_waits)
        outcomes = await asyncio.gather(upgrade(first, user.id, ""), waiting)
    finally:
        await first.close()
        await second.close()
    assert list(outcomes) == ["committed", "committed"]


async def test_two_self_updates_past_the_actor_check_queue_instead_of_deadlocking(
    small_url: str, writer: AsyncEngine
) -> None:
    """The second self-update waits for the first at its actor check; it then sees the
    new version (CONFLICT) and no attempt is aborted and run again."""
    user = (await two_users(small_url))[0]
    viewer = Viewer(user_id=user.id, role=user.role)
    checked = [asyncio.Event(), asyncio.Event()]
    go = asyncio.Event()
    runs = [0, 0]

    async def self_update(index: int) -> Any:
        async def work(conn: AsyncConnection) -> Any:
            runs[index] += 1
            actor = await acting(conn, viewer, meta=RequestMeta(), locks_user=user.id)
            checked[index].set()
            await go.wait()
            return await update_user(
                conn,
                actor=actor,
                user_id=user.id,
                expected_version=user.version,
                changes=UserChanges(name=f"Name {index}"),
            )

        return await run_transaction(writer, work)

    first = asyncio.create_task(self_update(0))
    await checked[0].wait()
    second = asyncio.create_task(self_update(1))

    async def second_checked_or_waiting() -> bool:
        return checked[1].is_set() or await lock_waits(small_url) > 0

    # Were the check's lock KEY SHARE (and the self case not locked FOR UPDATE first),
    # both would get past it and deadlock at locked_row.
    await until(second_checked_or_waiting)
    go.set()
    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert isinstance(outcomes[0], UserRecord)
    assert outcomes[0].name == "Name 0"
    assert isinstance(outcomes[1], Conflict)
    assert runs == [1, 1], "an attempt was aborted (deadlock) and run again"


async def test_two_admins_updating_each_other_deadlock_once_and_both_succeed(
    small_url: str, writer: AsyncEngine
) -> None:
    """A lock cycle no lock order avoids (each holds KEY SHARE on themself and wants the
    other's row): PostgreSQL aborts one, and the transaction helper runs it again."""
    a, b = await two_users(small_url)
    await execute(small_url, "UPDATE users SET role = 'admin'")
    checked = [asyncio.Event(), asyncio.Event()]
    runs = [0, 0]

    async def update_other(index: int, me: Any, other: Any) -> Any:
        async def work(conn: AsyncConnection) -> Any:
            runs[index] += 1
            viewer = Viewer(user_id=me.id, role="admin")
            actor = await acting(conn, viewer, meta=RequestMeta(), locks_user=other.id)
            checked[index].set()
            await asyncio.gather(*(event.wait() for event in checked))
            return await update_user(
                conn,
                actor=actor,
                user_id=other.id,
                expected_version=other.version,
                changes=UserChanges(name=f"Renamed by {index}"),
            )

        return await run_transaction(writer, work)

    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(update_other(0, a, b), update_other(1, b, a))
    assert [outcome.name for outcome in outcomes] == ["Renamed by 0", "Renamed by 1"]
    assert sorted(runs) == [1, 2]
    rows = await fetch_all(
        small_url, "SELECT version FROM users WHERE id IN (:a, :b)", a=a.id, b=b.id
    )
    assert [row.version for row in rows] == [a.version + 1, b.version + 1]
    audited = await fetch_value(
        small_url, "SELECT count(*) FROM audit_events WHERE action = 'user.updated'"
    )
    assert audited == 2


async def test_a_transaction_that_always_collides_ends_as_try_again_after_bounded_attempts(
    small_url: str, writer: AsyncEngine
) -> None:
    user = (await two_users(small_url))[0]
    runs = 0

    async def work(conn: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        await conn.execute(text("UPDATE users SET name = 'Half' WHERE id = :i"), {"i": user.id})
        await conn.execute(
            text("DO $$ BEGIN RAISE EXCEPTION 'collided' USING ERRCODE = '40001'; END $$")
        )

    with pytest.raises(TryAgain) as raised:
        await run_transaction(writer, work)
    assert runs == ATTEMPTS
    assert raised.value.retryable
    assert await fetch_value(small_url, "SELECT count(*) FROM users WHERE name = 'Half'") == 0


async def test_an_update_that_keeps_colliding_is_try_again_for_the_client(wapi: Api) -> None:
    user = await fetch_one(wapi.url, "SELECT id, name, version FROM users ORDER BY email LIMIT 1")
    await execute(
        wapi.url,
        "CREATE FUNCTION collide() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'could not serialize' USING ERRCODE = 'serialization_failure'; END $$",
        "CREATE TRIGGER collide BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION collide()",
    )
    error = await wapi.error(
        UPDATE_USER,
        {"input": {"id": gid("User", user.id), "expectedVersion": user.version, "name": "New"}},
    )
    assert error["extensions"]["code"] == "TRY_AGAIN"
    assert error["extensions"]["retryable"] is True
    assert "send it again" in error["message"]
    assert "serialize" not in error["message"]
    after = await fetch_one(wapi.url, "SELECT name, version FROM users WHERE id = :i", i=user.id)
    assert (after.name, after.version) == (user.name, user.version)
    assert (
        await fetch_value(
            wapi.url, "SELECT count(*) FROM audit_events WHERE action = 'user.updated'"
        )
        == 0
    )


async def test_twenty_concurrent_self_updates_all_land(wapi: Api) -> None:
    user = await fetch_one(
        wapi.url, "SELECT id, email, version FROM users WHERE role = 'user' ORDER BY email LIMIT 1"
    )
    me = await wapi.as_user(user.email)
    user_id = gid("User", user.id)
    codes: list[str] = []

    async def rename(index: int) -> None:
        for _ in range(100):
            version = (await me.data("{ viewer { version } }"))["viewer"]["version"]
            body = await me.query(
                UPDATE_USER,
                {"input": {"id": user_id, "expectedVersion": version, "name": f"Me {index}"}},
            )
            if "errors" not in body:
                assert body["data"]["updateUser"]["user"]["name"] == f"Me {index}"
                return
            codes.extend(error["extensions"]["code"] for error in body["errors"])
        raise AssertionError("100 conflicts in a row")

    await asyncio.gather(*(rename(index) for index in range(20)))
    assert set(codes) <= {"CONFLICT"}, codes
    final = await fetch_one(wapi.url, "SELECT name, version FROM users WHERE id = :i", i=user.id)
    assert final.version == user.version + 20
    assert final.name in {f"Me {index}" for index in range(20)}
    audited = await fetch_value(
        wapi.url,
        "SELECT count(*) FROM audit_events WHERE action = 'user.updated' AND entity_id = :i",
        i=user.id,
    )
    assert audited == 20
