"""Claims of an Idempotency-Key on the real database: a claim taken over after it lapsed
belongs to the retry, and the first request can no longer free or answer the key."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from service.domain.api_keys import ApiKeyService
from service.domain.idempotency import (
    IdempotencyService,
    InProgress,
    Proceed,
    Replay,
    request_fingerprint,
)
from service.storage.database import Database
from tests.conftest import run_sql

LOCK_S = 0.3
FINGERPRINT = request_fingerprint("POST", "/v1/memories", b"", b'{"text": "x"}')


Scenario = Callable[[IdempotencyService, uuid.UUID], Awaitable[None]]


async def _in_new_tenant(dsn: str, scenario: Scenario) -> uuid.UUID:
    """Run ``scenario`` with an idempotency service and a tenant of its own; the tenant's id."""
    database = Database(dsn, min_size=1, max_size=2, timeout_s=5)
    await database.open()
    try:
        created = await ApiKeyService(database).create(f"idem-{uuid.uuid4().hex[:8]}")
        await scenario(IdempotencyService(database, ttl_s=60, lock_s=LOCK_S), created.tenant.id)
        return created.tenant.id
    finally:
        await database.close()


def test_a_request_whose_claim_was_taken_over_cannot_free_the_key(migrated_dsn: str) -> None:
    key = str(uuid.uuid4())

    async def scenario(service: IdempotencyService, tenant_id: uuid.UUID) -> None:
        first = await service.claim(tenant_id, key, FINGERPRINT)
        assert isinstance(first, Proceed)
        assert isinstance(await service.claim(tenant_id, key, FINGERPRINT), InProgress)
        await asyncio.sleep(LOCK_S + 0.2)  # the first request is slow: its claim lapses
        retry = await service.claim(tenant_id, key, FINGERPRINT)
        assert isinstance(retry, Proceed)
        assert retry.token != first.token

        # The slow first request fails now: its release must leave the retry's claim alone,
        # or a third attempt would run beside the retry.
        await service.abandon(tenant_id, key, first.token)
        assert isinstance(await service.claim(tenant_id, key, FINGERPRINT), InProgress)

        # Nor may it answer for the key: the retry's answer is the one replayed.
        await service.finish(tenant_id, key, first.token, 201, "application/json", b"first")
        assert isinstance(await service.claim(tenant_id, key, FINGERPRINT), InProgress)
        await service.finish(tenant_id, key, retry.token, 201, "application/json", b"retry")
        assert await service.claim(tenant_id, key, FINGERPRINT) == Replay(
            201, "application/json", b"retry"
        )

    asyncio.run(_in_new_tenant(migrated_dsn, scenario))


def test_the_claim_holder_frees_the_key_for_a_retry(migrated_dsn: str) -> None:
    key = str(uuid.uuid4())

    async def scenario(service: IdempotencyService, tenant_id: uuid.UUID) -> None:
        first = await service.claim(tenant_id, key, FINGERPRINT)
        assert isinstance(first, Proceed)
        await service.abandon(tenant_id, key, first.token)
        assert isinstance(await service.claim(tenant_id, key, FINGERPRINT), Proceed)

    tenant_id = asyncio.run(_in_new_tenant(migrated_dsn, scenario))
    [row] = run_sql(
        migrated_dsn,
        "SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
        tenant_id,
        key,
    )
    assert row["n"] == 1  # the retry's claim, running
