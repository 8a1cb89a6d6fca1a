"""A streaming read replica that serves reads while it keeps up with the primary.

Consistency model: a read carrying a consistency token (the primary's WAL position after a
write) runs on the replica only once the replica has replayed that far, waiting at most
``wait_s``; otherwise on the primary. A read without a token runs on the replica unless the
replica is unreachable or lagging: behind where the primary's WAL was ``max_lag_s`` ago. So a
token read always sees its write, and a read without one is at most about ``max_lag_s`` stale.

The replay position is read on the very connection that serves the read: behind one read
URL (a Kubernetes Service such as CloudNativePG's ``-ro``) each connection may reach another
replica, each at its own position.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

import asyncpg
import structlog

from service import metrics
from service.consistency import ReplicaSkipped, parse_lsn
from service.errors import ConfigurationError, DatabaseUnavailable
from service.storage.database import Database, ReadOperation, T, TenantSelector, wait_for_database

log = structlog.get_logger(__name__)

POLL_S = 0.005  # how often a read waiting for its token asks its replica how far it is
# Whatever fails on the replica sends the read to the primary: it is down, restarting,
# refusing logins, cancelling a query that conflicts with replay, or not what it should be.
# (A value Postgres cannot hold is InvalidRequest, raised by Database, and not caught here.)
_REPLICA_FAILURES = (
    DatabaseUnavailable,
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
    OSError,
    TimeoutError,
)
_REPLAYED_SQL = "SELECT COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_lsn())::text"
_SYSTEM_SQL = "SELECT system_identifier FROM pg_control_system()"
SETTING = "DATABASE_READ_URL"


class ReadReplica:
    def __init__(self, database: Database, *, wait_s: float, max_lag_s: float) -> None:
        self.database = database
        self._wait_s = wait_s
        self._max_lag_s = max_lag_s
        self._check_interval_s = min(1.0, max_lag_s / 4)
        self._reachable = False
        self._lagging = False
        # Whether it is a copy of the primary (a replica, or the primary): None until known.
        self._same_cluster: bool | None = None
        # (when, primary WAL position) samples, oldest first, back to max_lag_s ago.
        self._primary_positions: deque[tuple[float, int]] = deque()
        self._watch: asyncio.Task[None] | None = None

    async def open(self, primary: Database) -> None:
        """Refuse a read URL that is wrong (login, URL, another cluster); accept a replica
        that is down for now: reads go to the primary until it is back."""
        try:
            connection = await wait_for_database(self.database.dsn, 0, setting=SETTING)
        except DatabaseUnavailable:
            log.warning("replica.unreachable")
        else:
            await connection.close()
        await self.database.open(like=primary)
        await self.check(primary)
        if self._same_cluster is False:
            raise ConfigurationError(
                f"{SETTING} names another database cluster than DATABASE_URL (their system "
                "identifiers differ): give a streaming replica of DATABASE_URL"
            )
        self._watch = asyncio.create_task(self._watch_lag(primary), name="replica-lag")

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self.database.close()

    async def serve(
        self, tenant: TenantSelector, operation: ReadOperation[T], after: int | None
    ) -> T:
        """Run ``operation`` here, or raise ``ReplicaSkipped`` saying why the primary must."""
        if not self._reachable:
            raise ReplicaSkipped("replica_unreachable")
        if after is None and self._lagging:
            raise ReplicaSkipped("lagging")
        floor = self._lag_floor() if after is None else None
        try:
            async with self.database.connection(tenant) as connection:
                replayed = await _replayed(connection)
                if after is not None:
                    await self._wait_for(connection, replayed, after)
                elif floor is not None and replayed < floor:
                    raise ReplicaSkipped("lagging")  # this connection reached a lagging replica
                result = await operation(connection)
        except _REPLICA_FAILURES as error:
            self._reachable = False  # until the next check finds it back
            metrics.REPLICA_SERVING.set(0)
            log.warning("replica.read_failed", error=type(error).__name__)
            raise ReplicaSkipped("replica_failed") from None
        metrics.DB_READS.labels("replica", "replica").inc()
        return result

    async def _wait_for(self, connection: asyncpg.Connection, replayed: int, after: int) -> None:
        """Until this connection's replica has replayed ``after``, at most ``wait_s``."""
        deadline = time.monotonic() + self._wait_s
        while replayed < after:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise ReplicaSkipped("token_wait")
            await asyncio.sleep(min(POLL_S, remaining_s))
            replayed = await _replayed(connection)

    def _lag_floor(self) -> int | None:
        """Where the primary's WAL was ``max_lag_s`` ago: a replica behind it lags."""
        samples = self._primary_positions
        cutoff = time.monotonic() - self._max_lag_s
        if samples and samples[0][0] <= cutoff:
            return samples[0][1]
        return None

    async def _watch_lag(self, primary: Database) -> None:
        while True:
            await asyncio.sleep(self._check_interval_s)
            try:
                await self.check(primary)
            except Exception as error:  # the watch must outlive any one check
                log.warning("replica.check_failed", error=type(error).__name__)

    async def check(self, primary: Database) -> None:
        """Sample both positions; the replica lags when it is behind where the primary was
        ``max_lag_s`` ago."""
        now = time.monotonic()
        with contextlib.suppress(DatabaseUnavailable):
            self._primary_positions.append((now, await primary.wal_position()))
        samples = self._primary_positions
        while len(samples) > 1 and samples[1][0] <= now - self._max_lag_s:
            samples.popleft()  # keep the newest sample at least max_lag_s old, and newer ones
        try:
            async with self.database.server_connection() as connection:
                replayed = await _replayed(connection)
                if self._same_cluster is None:
                    self._same_cluster = await _same_cluster(primary, connection)
        except _REPLICA_FAILURES as error:
            if self._reachable or self._watch is None:  # a change, or the first check
                log.warning("replica.unreachable", error=type(error).__name__)
            self._reachable = False
            metrics.REPLICA_SERVING.set(0)
            return
        self._note_state(replayed)

    def _note_state(self, replayed: int) -> None:
        if not self._same_cluster:
            self._reachable = False  # another cluster: never serve from it
            return
        if not self._reachable:
            log.info("replica.reachable")
        self._reachable = True
        floor = self._lag_floor()
        was_lagging = self._lagging
        self._lagging = floor is not None and replayed < floor
        if self._lagging != was_lagging:
            log.warning("replica.lagging" if self._lagging else "replica.caught_up")
        metrics.REPLICA_SERVING.set(0 if self._lagging else 1)
        if self._primary_positions:
            newest = self._primary_positions[-1][1]
            metrics.REPLICA_LAG_BYTES.set(max(0, newest - replayed))


async def _replayed(connection: asyncpg.Connection) -> int:
    position: str = await connection.fetchval(_REPLAYED_SQL)
    return parse_lsn(position)


async def _same_cluster(primary: Database, replica: asyncpg.Connection) -> bool:
    """Whether the replica was copied from the primary (a replica, or the primary itself).

    Where the role may not read the control data, the check is skipped (and logged)."""
    try:
        theirs = await replica.fetchval(_SYSTEM_SQL)
        async with primary.server_connection() as connection:
            ours = await connection.fetchval(_SYSTEM_SQL)
    except asyncpg.exceptions.InsufficientPrivilegeError:
        log.warning("replica.identity_unchecked", reason="pg_control_system() is not permitted")
        return True
    if theirs != ours:
        log.error(
            "replica.other_cluster",
            reason=f"{SETTING} names another cluster than DATABASE_URL; reads stay on the primary",
        )
    return bool(theirs == ours)
