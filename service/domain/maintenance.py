"""Housekeeping every serving process does now and then: purge expired memories (with their
history and feedback) and expired idempotency keys. Idempotent, so replicas may overlap."""

from __future__ import annotations

import asyncio

import structlog

from service.domain.idempotency import IdempotencyService
from service.storage import forgetting
from service.storage.database import ALL_TENANTS, Database

log = structlog.get_logger(__name__)


class Maintenance:
    def __init__(
        self, database: Database, idempotency: IdempotencyService, interval_s: float
    ) -> None:
        self._database = database
        self._idempotency = idempotency
        self._interval_s = interval_s

    async def run_once(self) -> None:
        async with self._database.transaction(ALL_TENANTS) as connection:
            memories = await forgetting.purge_expired(connection)
        keys = await self._idempotency.purge_expired()
        if memories or keys:
            log.info("maintenance.purged", expired_memories=memories, expired_keys=keys)

    async def loop(self) -> None:
        """Until cancelled; a failed round (e.g. the database is away) is retried next time."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("maintenance.failed")
            await asyncio.sleep(self._interval_s)
