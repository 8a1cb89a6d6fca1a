"""The asynchronous ingestion queue: claimed with FOR UPDATE SKIP LOCKED, leased, retried."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

_COLUMNS = (
    "id, tenant_id, status, request, result, last_error, attempts, created_at, updated_at, "
    "llm_calls, prompt_tokens, completion_tokens"
)


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
    llm_calls: int  # over every attempt
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class JobSpend:
    """What a job's LLM calls cost so far, over all its attempts."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class JobLease:
    """A job as one processor holds it: each claim counts an attempt, so the attempt number
    fences out a processor whose lease another one took over."""

    id: uuid.UUID
    attempt: int


def _job(row: asyncpg.Record) -> JobRecord:
    return JobRecord(**dict(row))


async def insert_job(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    request: dict[str, Any],
    lease_s: float | None = None,
    *,
    note: str | None = None,
    delay_s: float = 0.0,
) -> JobRecord:
    """Queue a job (due in ``delay_s``, ``note`` saying why it waits), or with ``lease_s``
    start it at once, leased to the caller."""
    row = await connection.fetchrow(
        f"""
        INSERT INTO ingest_jobs
            (tenant_id, request, status, attempts, lease_expires_at, last_error, next_attempt_at)
        VALUES (
            $1, $2,
            CASE WHEN $3::float8 IS NULL THEN 'queued' ELSE 'running' END,
            CASE WHEN $3::float8 IS NULL THEN 0 ELSE 1 END,
            now() + make_interval(secs => $3::float8),
            $4,
            now() + make_interval(secs => $5::float8)
        )
        RETURNING {_COLUMNS}
        """,
        tenant_id,
        request,
        lease_s,
        note,
        delay_s,
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


_SPEND = "llm_calls = $2, prompt_tokens = $3, completion_tokens = $4"


async def complete_job(
    connection: asyncpg.Connection, lease: JobLease, result: dict[str, Any], spend: JobSpend
) -> bool:
    """Mark the job done; False (nothing changed) when ``lease`` no longer holds it."""
    status = await connection.execute(
        f"""
        UPDATE ingest_jobs SET status = 'done', result = $5, last_error = NULL,
            lease_expires_at = NULL, updated_at = now(), {_SPEND}
        WHERE id = $1 AND status = 'running' AND attempts = $6
        """,
        lease.id,
        *_spend_values(spend),
        result,
        lease.attempt,
    )
    return _changed(status)


async def renew_lease(connection: asyncpg.Connection, lease: JobLease, lease_s: float) -> bool:
    status = await connection.execute(
        """
        UPDATE ingest_jobs SET lease_expires_at = now() + make_interval(secs => $3)
        WHERE id = $1 AND status = 'running' AND attempts = $2
        """,
        lease.id,
        lease.attempt,
        lease_s,
    )
    return _changed(status)


def _changed(status: str) -> bool:
    return status.rsplit(" ", 1)[-1] != "0"


async def retry_job_later(
    connection: asyncpg.Connection,
    lease: JobLease,
    error: str,
    delay_s: float,
    spend: JobSpend,
    *,
    attempted: bool = True,
) -> bool:
    """Queue the job again; ``attempted=False`` gives back the attempt its claim counted
    (nothing was tried: the LLM was held back). False when ``lease`` no longer holds it."""
    status = await connection.execute(
        f"""
        UPDATE ingest_jobs SET status = 'queued', last_error = $5, lease_expires_at = NULL,
            next_attempt_at = now() + make_interval(secs => $6), updated_at = now(),
            attempts = attempts - CASE WHEN $7 THEN 0 ELSE 1 END, {_SPEND}
        WHERE id = $1 AND status = 'running' AND attempts = $8
        """,
        lease.id,
        *_spend_values(spend),
        error,
        delay_s,
        attempted,
        lease.attempt,
    )
    return _changed(status)


async def fail_job(
    connection: asyncpg.Connection, lease: JobLease, error: str, spend: JobSpend
) -> bool:
    """Mark the job failed; False when ``lease`` no longer holds it."""
    status = await connection.execute(
        f"""
        UPDATE ingest_jobs SET status = 'failed', last_error = $5, lease_expires_at = NULL,
            updated_at = now(), {_SPEND}
        WHERE id = $1 AND status = 'running' AND attempts = $6
        """,
        lease.id,
        *_spend_values(spend),
        error,
        lease.attempt,
    )
    return _changed(status)


def _spend_values(spend: JobSpend) -> tuple[int, int, int]:
    return spend.llm_calls, spend.prompt_tokens, spend.completion_tokens


async def list_failed_jobs(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID | None,
    limit: int | None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[JobRecord]:
    """Failed jobs, most recently failed first: one tenant's, or every tenant's (None);
    ``after`` is the (updated_at, id) of the last job of the previous page."""
    rows = await connection.fetch(
        f"""
        SELECT {_COLUMNS} FROM ingest_jobs
        WHERE status = 'failed' AND ($1::uuid IS NULL OR tenant_id = $1)
          AND ($2::timestamptz IS NULL OR (updated_at, id) < ($2, $3::uuid))
        ORDER BY updated_at DESC, id DESC
        LIMIT $4
        """,
        tenant_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_job(row) for row in rows]


async def requeue_failed_job(
    connection: asyncpg.Connection, tenant_id: uuid.UUID | None, job_id: uuid.UUID
) -> JobRecord | None:
    """Give a failed job a fresh start (attempts and token budget); None unless it failed."""
    row = await connection.fetchrow(
        f"""
        UPDATE ingest_jobs SET status = 'queued', attempts = 0, next_attempt_at = now(),
            llm_calls = 0, prompt_tokens = 0, completion_tokens = 0, updated_at = now(),
            last_error = 'retried after: ' || coalesce(last_error, 'no reason recorded')
        WHERE id = $2 AND status = 'failed' AND ($1::uuid IS NULL OR tenant_id = $1)
        RETURNING {_COLUMNS}
        """,
        tenant_id,
        job_id,
    )
    return _job(row) if row else None


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
    connection: asyncpg.Connection, tenant_id: uuid.UUID | None, job_id: uuid.UUID
) -> JobRecord | None:
    """One tenant's job, or with ``tenant_id`` None (an operator's connection) any job."""
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM ingest_jobs WHERE ($1::uuid IS NULL OR tenant_id = $1) "
        "AND id = $2",
        tenant_id,
        job_id,
    )
    return _job(row) if row else None
