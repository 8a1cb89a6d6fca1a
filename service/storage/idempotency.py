"""Queries on idempotency keys. Callers own the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class KeyRecord:
    fingerprint: bytes
    status: int | None  # None: the first request is still running
    content_type: str | None
    body: bytes | None
    lock_expired: bool


async def claim_key(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    key: str,
    fingerprint: bytes,
    lock_s: float,
    ttl_s: float,
) -> KeyRecord | None:
    """Record the key as running; None if it was free (or expired), else the existing record."""
    await connection.execute(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND expires_at <= now()",
        tenant_id,
        key,
    )
    inserted = await connection.fetchval(
        """
        INSERT INTO idempotency_keys (tenant_id, key, fingerprint, locked_until, expires_at)
        VALUES ($1, $2, $3, now() + make_interval(secs => $4), now() + make_interval(secs => $5))
        ON CONFLICT DO NOTHING
        RETURNING true
        """,
        tenant_id,
        key,
        fingerprint,
        lock_s,
        ttl_s,
    )
    if inserted:
        return None
    row = await connection.fetchrow(
        """
        SELECT fingerprint, status, content_type, body, locked_until <= now() AS lock_expired
        FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 FOR UPDATE
        """,
        tenant_id,
        key,
    )
    assert row is not None  # noqa: S101  # the conflicting row exists and is not expired
    return KeyRecord(
        row["fingerprint"], row["status"], row["content_type"], row["body"], row["lock_expired"]
    )


async def relock_key(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, key: str, lock_s: float
) -> None:
    await connection.execute(
        """
        UPDATE idempotency_keys SET locked_until = now() + make_interval(secs => $3)
        WHERE tenant_id = $1 AND key = $2
        """,
        tenant_id,
        key,
        lock_s,
    )


async def store_answer(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    key: str,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    await connection.execute(
        """
        UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5
        WHERE tenant_id = $1 AND key = $2
        """,
        tenant_id,
        key,
        status,
        content_type,
        body,
    )


async def release_key(connection: asyncpg.Connection, tenant_id: uuid.UUID, key: str) -> None:
    await connection.execute(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND status IS NULL",
        tenant_id,
        key,
    )


async def purge_expired_keys(connection: asyncpg.Connection) -> int:
    deleted: int = await connection.fetchval(
        "WITH gone AS (DELETE FROM idempotency_keys WHERE expires_at <= now() RETURNING 1) "
        "SELECT count(*) FROM gone"
    )
    return deleted
