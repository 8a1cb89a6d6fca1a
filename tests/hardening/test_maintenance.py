"""Housekeeping: expired memories purged in batches, and an outage met with a warning."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from service.domain.idempotency import IdempotencyService
from service.domain.maintenance import Maintenance
from service.storage.database import Database
from tests.conftest import LiveServer, add_text, create_api_key, run_sql
from tests.postgres_tcp import free_port


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def test_a_backlog_of_expired_memories_is_purged_batch_by_batch(
    live_server: LiveServer,
) -> None:
    """More expired memories than one purge transaction takes: each batch commits on its own,
    and the round goes on until none is left; live memories stay."""
    key_tenant = f"backlog-{uuid.uuid4().hex[:8]}"
    key = create_api_key(live_server.dsn, key_tenant)
    user = f"backlog-{uuid.uuid4().hex[:8]}"
    with httpx.Client(
        base_url=live_server.base_url, headers={"X-API-Key": key}, timeout=60
    ) as client:
        for start in (0, 100, 200):
            items = [
                {"text": f"Locker code {n} for today", "user_id": user, "expires_at": _in(2)}
                for n in range(start, start + 100)
            ]
            assert client.post("/v1/memories/batch", json={"items": items}).status_code == 201
        kept = add_text(client, "The locker room is on the left", user_id=user)
    time.sleep(2.5)

    async def purge() -> None:
        database = Database(live_server.dsn, min_size=1, max_size=2, timeout_s=10)
        await database.open()
        try:
            idempotency = IdempotencyService(database, ttl_s=60, lock_s=10)
            await Maintenance(database, idempotency, 60, batch_size=64).run_once()
        finally:
            await database.close()

    asyncio.run(purge())
    left = run_sql(
        live_server.dsn,
        "SELECT id FROM memories WHERE tenant_id = (SELECT tenant_id FROM memories WHERE id = $1)",
        uuid.UUID(kept["id"]),
    )
    assert [row["id"] for row in left] == [uuid.UUID(kept["id"])]
    history = run_sql(
        live_server.dsn,
        "SELECT count(*) AS n FROM memory_history h JOIN tenants t ON t.id = h.tenant_id "
        "WHERE t.name = $1 AND h.memory_id <> $2",
        key_tenant,
        uuid.UUID(kept["id"]),
    )
    assert history[0]["n"] == 0
    # Not asserted: how many this round purged. Another server's maintenance may have taken
    # some (each skips the rows the other holds); between them, none is left.


def test_maintenance_during_an_outage_logs_a_warning_without_a_traceback(
    live_server: LiveServer,
) -> None:
    async def one_round() -> list[MutableMapping[str, Any]]:
        database = Database(live_server.dsn, min_size=1, max_size=1, timeout_s=2)
        await database.open()
        # From now on the pool connects where nothing listens: the database is away.
        database.pool.set_connect_args(f"postgresql://u@127.0.0.1:{free_port()}/db")
        await database.pool.expire_connections()
        maintenance = Maintenance(database, IdempotencyService(database, 60, 10), 3600)
        try:
            with structlog.testing.capture_logs() as logs:
                task = asyncio.create_task(maintenance.loop())
                await asyncio.sleep(1)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            await database.close()
        return logs

    logs = asyncio.run(one_round())
    rounds = [event for event in logs if event["event"].startswith("maintenance.")]
    assert rounds == [
        {"event": "maintenance.skipped", "reason": "database unavailable", "log_level": "warning"}
    ]
