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
    token: uuid.UUID,
    lock_s: float,
    ttl_s: float,
) -> KeyRecord | None:
    """Record the key as running under ``token``; None if it was free (or expired), else the
    existing record."""
    await connection.execute(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND expires_at <= now()",
        tenant_id,
        key,
    )
    # A claim released between the INSERT (which saw it) and the SELECT (which no longer
    # does) leaves the key free: claim it again. Each round needs another release in that
    # instant, so a few rounds always settle it.
    for _ in range(CLAIM_ROUNDS):
        inserted = await connection.fetchval(
            _CLAIM, tenant_id, key, fingerprint, token, lock_s, ttl_s
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
        if row is not None:
            return KeyRecord(
                row["fingerprint"],
                row["status"],
                row["content_type"],
                row["body"],
                row["lock_expired"],
            )
    raise KeyContended(key)


CLAIM_ROUNDS = 5


class KeyContended(Exception):
    """The key was claimed and released again under every round of a claim."""


_CLAIM = """
    INSERT INTO idempotency_keys
        (tenant_id, key, fingerprint, claim_token, locked_until, expires_at)
    VALUES ($1, $2, $3, $4,
            now() + make_interval(secs => $5), now() + make_interval(secs => $6))
    ON CONFLICT DO NOTHING
    RETURNING true
"""


async def relock_key(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    key: str,
    token: uuid.UUID,
    lock_s: float,
) -> None:
    """Take over a lapsed claim: from now on the key is ``token``'s."""
    await connection.execute(
        """
        UPDATE idempotency_keys
        SET claim_token = $3, locked_until = now() + make_interval(secs => $4)
        WHERE tenant_id = $1 AND key = $2
        """,
        tenant_id,
        key,
        token,
        lock_s,
    )


async def store_answer(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    key: str,
    token: uuid.UUID,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    """Keep the answer, unless another claim took the key over (its answer will be kept)."""
    await connection.execute(
        """
        UPDATE idempotency_keys SET status = $4, content_type = $5, body = $6
        WHERE tenant_id = $1 AND key = $2 AND claim_token = $3
        """,
        tenant_id,
        key,
        token,
        status,
        content_type,
        body,
    )


async def release_key(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, key: str, token: uuid.UUID
) -> None:
    """Free the key if ``token``'s claim still holds it unanswered; else change nothing."""
    await connection.execute(
        """
        DELETE FROM idempotency_keys
        WHERE tenant_id = $1 AND key = $2 AND claim_token = $3 AND status IS NULL
        """,
        tenant_id,
        key,
        token,
    )


async def purge_expired_keys(connection: asyncpg.Connection, limit: int) -> int:
    """Delete up to ``limit`` expired idempotency keys; how many went."""
    deleted: int = await connection.fetchval(
        "WITH gone AS (DELETE FROM idempotency_keys WHERE (tenant_id, key) IN ("
        " SELECT tenant_id, key FROM idempotency_keys WHERE expires_at <= now()"
        " LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING 1) "
        "SELECT count(*) FROM gone",
        limit,
    )
    return deleted
