"""Idempotent writes: a request retried with the same Idempotency-Key has one effect, and
every retry gets the first answer.

The key is claimed before the request runs, so concurrent retries cannot both run it: the
others are told the first is still in progress. A claim whose request never finished (the
process died, the database went away) lapses after ``lock_s`` and a retry may run it.
A request that ends in a server error releases its key, so that it can be retried. When the
database is away at that moment, the release (or the answer) is written before the next claim
this process makes; so is the release of a claim whose COMMIT an outage cut off (it may have
committed), so that a retry after the outage need not wait for the claim to lapse.

Each claim carries a token, and a request answers or releases its key only while the claim
is still its own: after its claim lapsed and a retry took the key over, a slow first request
must not free the key under the retry (a third attempt would then run beside it).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from service.errors import DatabaseUnavailable
from service.storage import idempotency as store
from service.storage.database import ALL_TENANTS, Database

MAX_UNWRITTEN = 10_000


@dataclass(frozen=True, slots=True)
class Proceed:
    """The key is ours: run the request, then ``finish`` or ``abandon`` with ``token``."""

    token: uuid.UUID


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


def request_fingerprint(
    method: str, path: str, query: bytes, body: bytes, meaning_headers: bytes = b""
) -> bytes:
    """What makes two requests the same request: a key reused with another fingerprint is
    refused. ``meaning_headers``: the headers that change what the request does (a scope
    pinned by header), in a canonical form."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body, meaning_headers):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


class IdempotencyService:
    def __init__(self, database: Database, ttl_s: float, lock_s: float) -> None:
        self._database = database
        self.ttl_s = ttl_s
        self.lock_s = lock_s
        # Answers and releases that could not be written (the database was away), written
        # before the next claim so that a retry after the outage is not told "in progress".
        self._unwritten: dict[tuple[uuid.UUID, str, uuid.UUID], Replay | None] = {}

    async def claim(self, tenant_id: uuid.UUID, key: str, fingerprint: bytes) -> Claim:
        await self._write_pending()
        token = uuid.uuid4()
        sent = False  # whether the claim reached the database (it may then have committed)
        try:
            async with self._database.transaction(tenant_id) as connection:
                sent = True
                try:
                    record = await store.claim_key(
                        connection, tenant_id, key, fingerprint, token, self.lock_s, self.ttl_s
                    )
                except store.KeyContended:
                    return InProgress()  # other requests with this key keep coming and going
                if record is None:
                    return Proceed(token)
                if record.fingerprint != fingerprint:
                    return KeyReused()
                if record.status is not None:
                    return Replay(record.status, record.content_type, record.body or b"")
                if record.lock_expired:
                    await store.relock_key(connection, tenant_id, key, token, self.lock_s)
                    return Proceed(token)
                return InProgress()
        except DatabaseUnavailable:
            if sent:
                # Whether the claim committed is unknown; if it did, no request runs under it.
                self._keep_unwritten(tenant_id, key, token, None)
            raise

    async def finish(
        self,
        tenant_id: uuid.UUID,
        key: str,
        token: uuid.UUID,
        status: int,
        content_type: str | None,
        body: bytes,
    ) -> None:
        """Keep the answer for retries (the client already has it)."""
        await self._write(tenant_id, key, token, Replay(status, content_type, body))

    async def abandon(self, tenant_id: uuid.UUID, key: str, token: uuid.UUID) -> None:
        """Free the key after a server error, so that a retry runs the request again."""
        await self._write(tenant_id, key, token, None)

    async def _write(
        self, tenant_id: uuid.UUID, key: str, token: uuid.UUID, answer: Replay | None
    ) -> None:
        try:
            await self._write_now(tenant_id, key, token, answer)
        except DatabaseUnavailable:
            self._keep_unwritten(tenant_id, key, token, answer)

    async def _write_now(
        self, tenant_id: uuid.UUID, key: str, token: uuid.UUID, answer: Replay | None
    ) -> None:
        async with self._database.transaction(tenant_id) as connection:
            if answer is None:
                await store.release_key(connection, tenant_id, key, token)
            else:
                await store.store_answer(
                    connection,
                    tenant_id,
                    key,
                    token,
                    answer.status,
                    answer.content_type,
                    answer.body,
                )

    def _keep_unwritten(
        self, tenant_id: uuid.UUID, key: str, token: uuid.UUID, answer: Replay | None
    ) -> None:
        if len(self._unwritten) < MAX_UNWRITTEN:
            self._unwritten[(tenant_id, key, token)] = answer

    async def _write_pending(self) -> None:
        pending, self._unwritten = list(self._unwritten.items()), {}
        for done, ((tenant_id, key, token), answer) in enumerate(pending):
            try:
                await self._write_now(tenant_id, key, token, answer)
            except DatabaseUnavailable:
                # Still away: keep the rest for the next claim instead of waiting out the
                # connection timeout once per pending write.
                for (tenant, rest_key, rest_token), rest_answer in pending[done:]:
                    self._keep_unwritten(tenant, rest_key, rest_token, rest_answer)
                return

    async def purge_expired(self, limit: int) -> int:
        """Delete up to ``limit`` expired keys; how many went."""
        async with self._database.transaction(ALL_TENANTS) as connection:
            return await store.purge_expired_keys(connection, limit)
