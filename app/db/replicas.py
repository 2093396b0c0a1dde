"""Read replicas: which one may serve a read now, and how far behind each one is.

Every REPLICA_CHECK_SECONDS the primary's WAL position and each replica's replay
position are read. A replica's lag is how long ago the primary was where the replica
has now replayed to (to within a check): 0 once it has replayed everything the
primary had at the last check. A replica that does not answer, is not a standby, or is
more than REPLICA_MAX_LAG_MS behind is skipped until a later check says otherwise.

Read-your-writes: a mutation's response carries its commit LSN (X-Ordergraph-LSN, and
`extensions.lsn`). A request that sends it back reads from a replica only once that
replica's `pg_last_wal_replay_lsn()` has passed it (the last check's, else asked
afresh); otherwise it reads from the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import connect, create_engine, read_only
from app.errors import BadInput, ServiceUnavailable
from app.settings import Settings

log = logging.getLogger(__name__)
LSN_HEADER = "x-ordergraph-lsn"
# How long primary positions are remembered to tell a replica's lag.
_HISTORY_SECONDS = 300.0


def parse_lsn(value: str) -> int:
    """'16/B374D848' -> its byte position; BadInput for anything else."""
    high, slash, low = value.strip().partition("/")
    try:
        if not slash:
            raise ValueError(value)
        return (int(high, 16) << 32) + int(low, 16)
    except ValueError:
        raise BadInput(
            f"{LSN_HEADER} must be a PostgreSQL WAL position such as 0/16B3748, sent back "
            "unchanged from a mutation's response.",
            field=LSN_HEADER,
        ) from None


def format_lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


@dataclass(slots=True)
class ReplicaStat:
    """One replica as the last check saw it (for /readyz and /metrics)."""

    name: str
    up: bool
    lag_seconds: float | None
    replay_lsn: str | None
    reads: int
    error: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "up": self.up,
            "lag_seconds": self.lag_seconds,
            "replay_lsn": self.replay_lsn,
            "reads": self.reads,
            "error": self.error,
        }


_POSITION = text(
    """
    SELECT pg_is_in_recovery() AS in_recovery,
           pg_last_wal_replay_lsn()::text AS replay,
           pg_last_wal_receive_lsn()::text AS received,
           (SELECT status FROM pg_stat_wal_receiver) AS status
    """
)


class Replica:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = read_only(engine)
        url = engine.url
        # Where it is, never who connects or with what password.
        self.name = f"{url.host or url.query.get('host')}:{url.port or 5432}/{url.database}"
        self.up = False
        self.replay = 0
        # Replayed all it received, and still streaming from the primary.
        self.caught_up = False
        self.lag_seconds: float | None = None
        self.reads = 0
        self.error: str | None = "not checked yet"

    async def replay_position(self) -> int:
        """This replica's replay position now; ServiceUnavailable when it does not answer,
        ValueError when it is no standby."""
        async with connect(self.engine) as conn:
            row = (await conn.execute(_POSITION)).one()
        if not row.in_recovery or row.replay is None:
            raise ValueError("not a standby (pg_is_in_recovery() is false)")
        replay = parse_lsn(row.replay)
        self.caught_up = (
            row.status == "streaming"
            and row.received is not None
            and replay >= parse_lsn(row.received)
        )
        return replay


class Replicas:
    """The replicas of one primary; `reader` picks one for a request, or None."""

    def __init__(
        self,
        primary: AsyncEngine,
        replicas: list[AsyncEngine],
        *,
        max_lag_seconds: float,
        check_seconds: float,
    ) -> None:
        self.primary = read_only(primary)
        self.replicas = [Replica(engine) for engine in replicas]
        self.max_lag_seconds = max_lag_seconds
        self.check_seconds = check_seconds
        self._history: deque[tuple[float, int]] = deque()
        self._turn = itertools.count()
        self._stop = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: Settings, primary: AsyncEngine) -> Replicas | None:
        if not settings.database_replica_urls:
            return None
        engines = [
            create_engine(settings, url.get_secret_value())
            for url in settings.database_replica_urls
        ]
        return cls(
            primary,
            engines,
            max_lag_seconds=settings.replica_max_lag_ms / 1000,
            check_seconds=settings.replica_check_seconds,
        )

    async def reader(self, *, min_lsn: int | None = None) -> AsyncEngine | None:
        """A replica to read from (round robin among the usable ones), or None for the
        primary: none usable, or none has replayed `min_lsn` yet."""
        usable = [r for r in self.replicas if r.up and self._fresh(r)]
        if not usable:
            return None
        start = next(self._turn)
        ordered = [usable[(start + i) % len(usable)] for i in range(len(usable))]
        if min_lsn is not None:
            caught_up = [r for r in ordered if r.replay >= min_lsn]
            if not caught_up:
                # The last check may be a moment old: ask one replica where it is now.
                candidate = ordered[0]
                with contextlib.suppress(ServiceUnavailable, ValueError):
                    candidate.replay = max(candidate.replay, await candidate.replay_position())
                caught_up = [candidate] if candidate.replay >= min_lsn else []
            if not caught_up:
                return None
            ordered = caught_up
        chosen = ordered[0]
        chosen.reads += 1
        return chosen.engine

    def _fresh(self, replica: Replica) -> bool:
        return replica.lag_seconds is not None and replica.lag_seconds <= self.max_lag_seconds

    async def check(self) -> None:
        """Read the primary's position, then each replica's, and work out their lags."""
        async with connect(self.primary) as conn:
            position = parse_lsn(
                (await conn.execute(text("SELECT pg_current_wal_lsn()::text"))).scalar_one()
            )
        now = time.monotonic()
        self._history.append((now, position))
        while self._history and self._history[0][0] < now - _HISTORY_SECONDS:
            self._history.popleft()
        for replica in self.replicas:
            try:
                replica.replay = await replica.replay_position()
            except (ServiceUnavailable, ValueError) as exc:
                replica.up, replica.lag_seconds = False, None
                replica.error = exc.message if isinstance(exc, ServiceUnavailable) else str(exc)
                continue
            replica.up, replica.error = True, None
            replica.lag_seconds = 0.0 if replica.caught_up else self._lag(replica.replay, now)

    def _lag(self, replay: int, now: float) -> float:
        """How long ago the primary was at `replay` (0 when the replica has everything
        the primary had at the last check)."""
        for at, position in self._history:
            if position > replay:
                return now - at
        return 0.0

    async def run(self) -> None:
        """Check every check_seconds until `stop`."""
        while not self._stop.is_set():
            try:
                await self.check()
            except ServiceUnavailable:
                log.debug("primary unreachable; replicas not checked")
            except Exception:
                log.exception("checking the replicas failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.check_seconds)

    def stop(self) -> None:
        self._stop.set()

    def stats(self) -> list[ReplicaStat]:
        """Each replica's state and lag, as the last check saw it."""
        return [
            ReplicaStat(
                name=r.name,
                up=r.up,
                lag_seconds=None if r.lag_seconds is None else round(r.lag_seconds, 3),
                replay_lsn=format_lsn(r.replay) if r.up else None,
                reads=r.reads,
                error=r.error,
            )
            for r in self.replicas
        ]

    async def dispose(self) -> None:
        for replica in self.replicas:
            await replica.engine.dispose()


def replica_stats(replicas: Replicas | None) -> list[ReplicaStat]:
    """For /metrics: one entry per replica (none without DATABASE_REPLICA_URLS)."""
    return replicas.stats() if replicas is not None else []


async def commit_position(engine: AsyncEngine) -> int:
    """The primary's WAL insert position now: after a commit, at or past its record."""
    async with connect(read_only(engine)) as conn:
        value = (await conn.execute(text("SELECT pg_current_wal_insert_lsn()::text"))).scalar_one()
    return parse_lsn(value)
