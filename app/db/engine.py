"""The async engine: one pool per process, shared by every request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary, WeakSet

from asyncpg import exceptions as asyncpg_exceptions
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import Pool, QueuePool

from app.errors import ServiceUnavailable, StatementTimeout, TryAgain
from app.settings import Settings

# PostgreSQL aborted the transaction because of concurrent ones: deadlock_detected and
# serialization_failure. Running the same transaction again is the documented remedy.
COLLISIONS = frozenset({"40P01", "40001"})


def create_engine(settings: Settings, url: str) -> AsyncEngine:
    """An asyncpg engine whose pool survives a database restart.

    A connection the server closed while it sat in the pool is dropped at checkout, so
    the first request after PostgreSQL comes back succeeds instead of failing once. The
    check is local (asyncpg saw the socket close), not SQLAlchemy's pool_pre_ping: with
    asyncpg that ping is BEGIN, a statement and ROLLBACK, three round trips before every
    read, which tripled the cost of a point lookup.
    """
    server_settings = {"application_name": "ordergraph"}
    connect_args: dict[str, Any] = {"timeout": settings.db_connect_timeout_s}
    if settings.db_pgbouncer:
        # PgBouncer 1.18 (Debian's) refuses startup parameters it does not know, such
        # as statement_timeout (set it on the role: see the README), and a prepared
        # statement is only good on the server connection of its transaction: no
        # statement cache, neither asyncpg's nor SQLAlchemy's.
        connect_args["statement_cache_size"] = 0
        url = (
            make_url(url)
            .update_query_dict({"prepared_statement_cache_size": "0"})
            .render_as_string(hide_password=False)
        )
    elif settings.db_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    connect_args["server_settings"] = server_settings
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_connect_timeout_s * 2,
        connect_args=connect_args,
    )
    if settings.db_pgbouncer:
        _THROUGH_PGBOUNCER.add(engine.sync_engine.pool)
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    event.listen(engine.sync_engine, "connect", _numeric_as_text)
    return engine


# Pools that reach PostgreSQL through PgBouncer in transaction pooling mode.
_THROUGH_PGBOUNCER: WeakSet[Pool] = WeakSet()


def through_pgbouncer(engine: AsyncEngine) -> bool:
    return engine.sync_engine.pool in _THROUGH_PGBOUNCER


def _numeric_as_text(dbapi_connection: Any, record: Any) -> None:
    """numeric travels as text and becomes Decimal(text): the same exact values, but
    C's Decimal parses a string faster than asyncpg assembles one from binary digits,
    and a large answer carries thousands of amounts. In a transaction: the type's
    look-up is prepared and run in two steps, which PgBouncer may otherwise send to
    two different server connections."""

    async def numeric_codec(conn: Any) -> None:
        async with conn.transaction():
            await conn.set_type_codec(
                "numeric", encoder=str, decoder=Decimal, schema="pg_catalog", format="text"
            )

    dbapi_connection.run_async(numeric_codec)


def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Checkout hook: a connection whose socket is closed makes the pool connect anew."""
    connection = getattr(dbapi_connection, "_connection", None)
    if connection is not None and connection.is_closed():
        raise DisconnectionError("connection closed while pooled")


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same pool in autocommit mode: each read is one round trip, no BEGIN/COMMIT.

    Through PgBouncer the engine itself: asyncpg prepares a statement and runs it in
    two exchanges, and only a transaction keeps PgBouncer from sending them to two
    different server connections ("prepared statement does not exist")."""
    if through_pgbouncer(engine):
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


_GATES: WeakKeyDictionary[Pool, asyncio.Semaphore] = WeakKeyDictionary()


def _gate(engine: AsyncEngine) -> tuple[asyncio.Semaphore, float] | None:
    """First come, first served for a pool's connections.

    SQLAlchemy's async pool lets a newcomer take a connection that was just handed back
    while a waiter is being woken; the waiter then queues again at the back. With more
    requests than connections, some requests waited many times the median (tail latency
    under load; figures in bench/results). A fair semaphore of the pool's size
    in front of it means the pool itself never has waiters.
    """
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return None
    gate = _GATES.get(pool)
    if gate is None:
        gate = _GATES[pool] = asyncio.Semaphore(pool.size() + max(pool._max_overflow, 0))
    return gate, pool.timeout()


def pool_waiting(engine: AsyncEngine) -> int:
    """Callers of `connect` waiting for one of the engine's pooled connections now."""
    gate = _GATES.get(engine.sync_engine.pool)
    waiters = getattr(gate, "_waiters", None) if gate is not None else None
    return len(waiters) if waiters else 0


@asynccontextmanager
async def connect(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection; a database that cannot be reached is ServiceUnavailable, a
    transaction aborted for a deadlock or a serialization failure is TryAgain, a statement
    cancelled by statement_timeout is StatementTimeout."""
    gate = _gate(engine)
    if gate is not None:
        try:
            async with asyncio.timeout(gate[1]):
                await gate[0].acquire()
        except TimeoutError:
            raise _busy() from None
    try:
        async with engine.connect() as conn:
            yield conn
    except DBAPIError as exc:
        # SQLAlchemy wraps its adapter's error, which wraps asyncpg's: look at the root.
        cause = exc.orig.__cause__ if exc.orig is not None else None
        if exc.connection_invalidated or _is_unavailable(cause or exc.orig):
            raise ServiceUnavailable(
                "The database is unavailable; retry shortly, nothing was changed."
            ) from exc
        if getattr(exc.orig, "sqlstate", None) in COLLISIONS:
            raise TryAgain(
                "This write collided with concurrent writes and was rolled back; nothing "
                "was changed, send it again."
            ) from exc
        if isinstance(cause, asyncpg_exceptions.QueryCanceledError):
            raise StatementTimeout(
                "A statement ran longer than the statement timeout (DB_STATEMENT_TIMEOUT_MS) "
                "and was cancelled; narrow the request (smaller pages, tighter filters)."
            ) from exc
        raise
    except PoolTimeout as exc:
        raise _busy() from exc
    except (OSError, TimeoutError) as exc:
        raise ServiceUnavailable(
            "The database is unavailable; retry shortly, nothing was changed."
        ) from exc
    finally:
        if gate is not None:
            gate[0].release()


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction: everything in it commits together, or nothing does."""
    async with connect(engine) as conn, conn.begin():
        yield conn


def _busy() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The server is busy: every database connection is in use; retry shortly."
    )


def _is_unavailable(error: BaseException | None) -> bool:
    return isinstance(
        error,
        OSError
        | TimeoutError
        | asyncpg_exceptions.CannotConnectNowError
        | asyncpg_exceptions.ConnectionDoesNotExistError
        | asyncpg_exceptions.AdminShutdownError
        | asyncpg_exceptions.TooManyConnectionsError,
    )
