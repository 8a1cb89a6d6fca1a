"""Idempotent writes: a request retried with the same Idempotency-Key has one effect, and
every retry gets the first answer.

The key is claimed before the request runs, so concurrent retries cannot both run it: the
others are told the first is still in progress. A claim whose request never finished (the
process died, the database went away) lapses after ``lock_s`` and a retry may run it.
A request that ends in a server error releases its key, so that it can be retried.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from service.storage import idempotency as store
from service.storage.database import ALL_TENANTS, Database

LOCK_S = 60.0


@dataclass(frozen=True, slots=True)
class Proceed:
    """The key is ours: run the request, then ``finish`` or ``abandon``."""


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    content_type: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class InProgress:
    """Another request with this key is running now."""


@dataclass(frozen=True, slots=True)
class KeyReused:
    """The key was first used with a different request."""


Claim = Proceed | Replay | InProgress | KeyReused


def request_fingerprint(method: str, path: str, query: bytes, body: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


class IdempotencyService:
    def __init__(self, database: Database, ttl_s: float) -> None:
        self._database = database
        self.ttl_s = ttl_s

    async def claim(self, tenant_id: uuid.UUID, key: str, fingerprint: bytes) -> Claim:
        async with self._database.transaction(tenant_id) as connection:
            record = await store.claim_key(
                connection, tenant_id, key, fingerprint, LOCK_S, self.ttl_s
            )
            if record is None:
                return Proceed()
            if record.fingerprint != fingerprint:
                return KeyReused()
            if record.status is not None:
                return Replay(record.status, record.content_type, record.body or b"")
            if record.lock_expired:
                await store.relock_key(connection, tenant_id, key, LOCK_S)
                return Proceed()
            return InProgress()

    async def finish(
        self, tenant_id: uuid.UUID, key: str, status: int, content_type: str | None, body: bytes
    ) -> None:
        async with self._database.transaction(tenant_id) as connection:
            await store.store_answer(connection, tenant_id, key, status, content_type, body)

    async def abandon(self, tenant_id: uuid.UUID, key: str) -> None:
        async with self._database.transaction(tenant_id) as connection:
            await store.release_key(connection, tenant_id, key)

    async def purge_expired(self) -> int:
        async with self._database.transaction(ALL_TENANTS) as connection:
            return await store.purge_expired_keys(connection)
