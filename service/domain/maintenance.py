"""Housekeeping every serving process does now and then: purge expired memories (with their
history and feedback) and expired idempotency keys. Idempotent, so replicas may overlap."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from service.domain.idempotency import IdempotencyService
from service.errors import DatabaseUnavailable
from service.storage import forgetting
from service.storage.database import ALL_TENANTS, Database

log = structlog.get_logger(__name__)

# Rows deleted per transaction. A backlog (a million memories that expired together) is
# purged in short transactions: one DELETE of it all would outlast the statement timeout on
# every round, and so never finish, while holding its locks.
PURGE_BATCH = 1000


class Maintenance:
    def __init__(
        self,
        database: Database,
        idempotency: IdempotencyService,
        interval_s: float,
        batch_size: int = PURGE_BATCH,
    ) -> None:
        self._database = database
        self._idempotency = idempotency
        self._interval_s = interval_s
        self._batch_size = batch_size

    async def run_once(self) -> None:
        """Purge everything expired by now, a batch per transaction."""
        memories = await self._in_batches(self._purge_memories)
        keys = await self._in_batches(self._idempotency.purge_expired)
        if memories or keys:
            log.info("maintenance.purged", expired_memories=memories, expired_keys=keys)

    async def loop(self) -> None:
        """Until cancelled; a failed round (e.g. the database is away) is retried next time."""
        while True:
            try:
                await self.run_once()
            except DatabaseUnavailable:
                # An outage the request path reports too; what was purged before it stays so.
                log.warning("maintenance.skipped", reason="database unavailable")
            except Exception:
                log.exception("maintenance.failed")
            await asyncio.sleep(self._interval_s)

    async def _purge_memories(self, limit: int) -> int:
        async with self._database.transaction(ALL_TENANTS) as connection:
            return await forgetting.purge_expired(connection, limit)

    async def _in_batches(self, purge: Callable[[int], Awaitable[int]]) -> int:
        total = 0
        while (purged := await purge(self._batch_size)) > 0:
            total += purged
            if purged < self._batch_size:
                break
        return total
