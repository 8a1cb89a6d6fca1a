"""A streaming read replica that serves reads while it keeps up with the primary.

Consistency model: a read carrying a consistency token (the primary's WAL position after a
write) runs on the replica only once the replica has replayed that far, waiting at most
``wait_s``; otherwise on the primary. A read without a token runs on the replica unless the
replica is unreachable or lagging: behind where the primary's WAL was ``max_lag_s`` ago. So a
token read always sees its write, and a read without one is at most about ``max_lag_s`` stale.
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
from service.errors import DatabaseUnavailable
from service.storage.database import Database, ReadOperation, T, TenantSelector

log = structlog.get_logger(__name__)

POLL_S = 0.005  # how often a read waiting for its token asks the replica how far it is
# Failures of a query on the replica that the same query on the primary does not meet: a
# hot standby cancels queries that conflict with replay, and stops serving while it restarts.
_REPLICA_FAILURES = (
    DatabaseUnavailable,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.CannotConnectNowError,
)
_REPLAYED_SQL = "SELECT COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_lsn())::text"


class ReadReplica:
    def __init__(self, database: Database, *, wait_s: float, max_lag_s: float) -> None:
        self.database = database
        self._wait_s = wait_s
        self._max_lag_s = max_lag_s
        self._check_interval_s = min(1.0, max_lag_s / 4)
        self._replayed = 0
        self._reachable = False
        self._lagging = False
        # (when, primary WAL position) samples, oldest first, back to max_lag_s ago.
        self._primary_positions: deque[tuple[float, int]] = deque()
        self._watch: asyncio.Task[None] | None = None

    async def open(self, primary: Database) -> None:
        await self.database.open(like=primary)
        await self.check(primary)
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
        if after is not None:
            if not await self._replayed_to(after):
                raise ReplicaSkipped("token_wait")
        elif self._lagging:
            raise ReplicaSkipped("lagging")
        try:
            async with self.database.connection(tenant) as connection:
                result = await operation(connection)
        except _REPLICA_FAILURES as error:
            self._reachable = False  # until the next check finds it back
            metrics.REPLICA_SERVING.set(0)
            log.warning("replica.read_failed", error=type(error).__name__)
            raise ReplicaSkipped("replica_failed") from None
        metrics.DB_READS.labels("replica", "replica").inc()
        return result

    async def _replayed_to(self, position: int) -> bool:
        """Whether the replica has replayed ``position``, waiting at most ``wait_s``."""
        deadline = time.monotonic() + self._wait_s
        while self._replayed < position:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                return False
            await asyncio.sleep(min(POLL_S, remaining_s))
            try:
                self._replayed = max(self._replayed, await self._replay_position())
            except _REPLICA_FAILURES:
                return False
        return True

    async def _replay_position(self) -> int:
        async with self.database.server_connection() as connection:
            replayed: str = await connection.fetchval(_REPLAYED_SQL)
        return parse_lsn(replayed)

    async def _watch_lag(self, primary: Database) -> None:
        while True:
            await asyncio.sleep(self._check_interval_s)
            await self.check(primary)

    async def check(self, primary: Database) -> None:
        """Sample both positions; the replica lags when it is behind where the primary was
        ``max_lag_s`` ago."""
        now = time.monotonic()
        with contextlib.suppress(DatabaseUnavailable):
            self._primary_positions.append((now, await primary.wal_position()))
        try:
            self._replayed = max(self._replayed, await self._replay_position())
        except _REPLICA_FAILURES:
            if self._reachable or self._watch is None:  # a change, or the first check
                log.warning("replica.unreachable")
            self._reachable = False
            metrics.REPLICA_SERVING.set(0)
            return
        if not self._reachable:
            log.info("replica.reachable")
        self._reachable = True
        samples = self._primary_positions
        cutoff = now - self._max_lag_s
        while len(samples) > 1 and samples[1][0] <= cutoff:
            samples.popleft()  # keep the newest sample at least max_lag_s old, and newer ones
        was_lagging = self._lagging
        self._lagging = bool(samples) and samples[0][0] <= cutoff and self._replayed < samples[0][1]
        if self._lagging != was_lagging:
            log.warning("replica.lagging" if self._lagging else "replica.caught_up")
        metrics.REPLICA_SERVING.set(0 if self._lagging else 1)
        if samples:
            metrics.REPLICA_LAG_BYTES.set(max(0, samples[-1][1] - self._replayed))
