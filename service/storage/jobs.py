"""The asynchronous ingestion queue: claimed with FOR UPDATE SKIP LOCKED, leased, retried."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

_COLUMNS = "id, tenant_id, status, request, result, last_error, attempts, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: uuid.UUID
    tenant_id: uuid.UUID
    status: str
    request: dict[str, Any]
    result: dict[str, Any] | None
    last_error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime


def _job(row: asyncpg.Record) -> JobRecord:
    return JobRecord(**dict(row))


async def insert_job(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    request: dict[str, Any],
    lease_s: float | None = None,
) -> JobRecord:
    """Queue a job, or with ``lease_s`` start it at once, leased to the caller."""
    row = await connection.fetchrow(
        f"""
        INSERT INTO ingest_jobs (tenant_id, request, status, attempts, lease_expires_at)
        VALUES (
            $1, $2,
            CASE WHEN $3::float8 IS NULL THEN 'queued' ELSE 'running' END,
            CASE WHEN $3::float8 IS NULL THEN 0 ELSE 1 END,
            now() + make_interval(secs => $3::float8)
        )
        RETURNING {_COLUMNS}
        """,
        tenant_id,
        request,
        lease_s,
    )
    assert row is not None  # noqa: S101  # INSERT ... RETURNING always returns the row
    return _job(row)


async def claim_job(connection: asyncpg.Connection, lease_s: float) -> JobRecord | None:
    """Take one runnable job and lease it to this worker.

    A job is runnable when queued and due, or running with an expired lease (its worker died).
    """
    row = await connection.fetchrow(
        f"""
        UPDATE ingest_jobs SET status = 'running', attempts = attempts + 1,
            lease_expires_at = now() + make_interval(secs => $1), updated_at = now()
        WHERE id = (
            SELECT id FROM ingest_jobs
            WHERE ((status = 'queued' AND next_attempt_at <= now())
                   OR (status = 'running' AND lease_expires_at < now()))
            ORDER BY next_attempt_at
            FOR UPDATE SKIP LOCKED
            LIMIT 1
        )
        RETURNING {_COLUMNS}
        """,
        lease_s,
    )
    return _job(row) if row else None


async def complete_job(
    connection: asyncpg.Connection, job_id: uuid.UUID, result: dict[str, Any]
) -> None:
    await connection.execute(
        """
        UPDATE ingest_jobs SET status = 'done', result = $2, last_error = NULL,
            lease_expires_at = NULL, updated_at = now()
        WHERE id = $1
        """,
        job_id,
        result,
    )


async def retry_job_later(
    connection: asyncpg.Connection, job_id: uuid.UUID, error: str, delay_s: float
) -> None:
    await connection.execute(
        """
        UPDATE ingest_jobs SET status = 'queued', last_error = $2, lease_expires_at = NULL,
            next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
        WHERE id = $1
        """,
        job_id,
        error,
        delay_s,
    )


async def fail_job(connection: asyncpg.Connection, job_id: uuid.UUID, error: str) -> None:
    await connection.execute(
        """
        UPDATE ingest_jobs SET status = 'failed', last_error = $2, lease_expires_at = NULL,
            updated_at = now()
        WHERE id = $1
        """,
        job_id,
        error,
    )


async def queue_stats(connection: asyncpg.Connection) -> tuple[int, int, float]:
    """(queued, running, age in seconds of the oldest unfinished job) over all tenants."""
    row = await connection.fetchrow(
        """
        SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
               count(*) FILTER (WHERE status = 'running') AS running,
               coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_s
        FROM ingest_jobs WHERE status IN ('queued', 'running')
        """
    )
    assert row is not None  # noqa: S101  # an aggregate always returns a row
    return row["queued"], row["running"], row["oldest_s"]


async def find_job(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, job_id: uuid.UUID
) -> JobRecord | None:
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM ingest_jobs WHERE tenant_id = $1 AND id = $2", tenant_id, job_id
    )
    return _job(row) if row else None
