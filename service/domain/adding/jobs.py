"""Durable ingestion: the input is stored as a job before any work, so nothing acknowledged
is ever lost; failures are retried with backoff by workers that claim jobs from Postgres.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import structlog

from service import metrics
from service.domain.adding.codec import decode_request, decode_result, encode_request
from service.domain.adding.pipeline import IngestPipeline, StaleCandidatesPersist
from service.domain.adding.request import AddRequest
from service.domain.adding.results import AddResult
from service.domain.ports import LlmFailure
from service.errors import NotFound
from service.storage import jobs as job_store
from service.storage.database import ALL_TENANTS, Database
from service.storage.jobs import JobRecord

log = structlog.get_logger(__name__)

MAX_BACKOFF_S = 300.0


def job_not_found(job_id: uuid.UUID) -> NotFound:
    return NotFound(f"no job with id {job_id} exists for this API key")


JobStatus = Literal["queued", "running", "done", "failed"]


@dataclass(frozen=True, slots=True)
class Job:
    """An add kept in the queue: its status, and its result once done."""

    id: uuid.UUID
    status: JobStatus
    attempts: int
    last_error: str | None
    result: AddResult | None
    created_at: datetime
    updated_at: datetime


def _job(record: JobRecord) -> Job:
    return Job(
        record.id,
        record.status,  # type: ignore[arg-type]  # the table's CHECK allows only these
        record.attempts,
        record.last_error,
        decode_result(record.result) if record.result is not None else None,
        record.created_at,
        record.updated_at,
    )


class IngestJobs:
    def __init__(
        self, database: Database, pipeline: IngestPipeline, *, max_attempts: int, lease_s: float
    ) -> None:
        self._database = database
        self._pipeline = pipeline
        self._max_attempts = max_attempts
        self._lease_s = lease_s
        self._wake = asyncio.Event()

    async def submit(self, tenant_id: uuid.UUID, request: AddRequest) -> Job:
        """Store the input and return at once; a worker processes it."""
        async with self._database.transaction(tenant_id) as connection:
            job = await job_store.insert_job(connection, tenant_id, encode_request(request))
        self._wake.set()
        return _job(job)

    async def run_now(self, tenant_id: uuid.UUID, request: AddRequest) -> AddResult | Job:
        """Store the input, then process it in this request. The result, or on an LLM
        failure the job left queued for workers (its ``last_error`` says why)."""
        async with self._database.transaction(tenant_id) as connection:
            # Leased to this request from the start, so no worker takes it meanwhile; if this
            # process dies, the lease expires and a worker finishes the job.
            job = await job_store.insert_job(
                connection, tenant_id, encode_request(request), lease_s=self._lease_s
            )
        return await self._process(job, request)

    async def refresh_metrics(self) -> None:
        async with self._database.connection(ALL_TENANTS) as connection:
            queued, running, oldest_s = await job_store.queue_stats(connection)
        metrics.JOB_QUEUE_DEPTH.labels("queued").set(queued)
        metrics.JOB_QUEUE_DEPTH.labels("running").set(running)
        metrics.JOB_QUEUE_OLDEST_AGE.set(oldest_s)

    async def get(self, tenant_id: uuid.UUID, job_id: uuid.UUID) -> Job:
        async with self._database.connection(tenant_id) as connection:
            job = await job_store.find_job(connection, tenant_id, job_id)
        if job is None:
            raise job_not_found(job_id)
        return _job(job)

    async def work(self, stop: asyncio.Event | None = None, poll_interval_s: float = 1.0) -> None:
        """Claim and process jobs until ``stop`` is set (the current job finishes first) or
        the task is cancelled (the job keeps its lease and is retried when it expires)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                async with self._database.transaction(ALL_TENANTS) as connection:
                    job = await job_store.claim_job(connection, self._lease_s)
            except Exception:  # keep the worker alive through database outages
                log.exception("jobs.claim_failed")
                job = None
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll_interval_s)
                continue
            try:
                await self._process(job, decode_request(job.request))
            except Exception:  # e.g. the database went away: the lease expires, it is retried
                log.exception("jobs.process_failed", job_id=str(job.id))

    async def _process(self, job: JobRecord, request: AddRequest) -> AddResult | Job:
        kind: str  # what the log may say of a failure; ``error`` (stored) may quote the LLM
        try:
            result = await self._pipeline.run(job.tenant_id, request, job.id)
        except LlmFailure as failure:
            kind, error = failure.kind, f"{failure.kind}: {failure.detail}"
        except StaleCandidatesPersist as conflict:
            # Other adds kept changing this scope's memories: nothing is wrong, try later.
            kind, error = "contention", f"contention: {conflict.detail}"
        except Exception as error_:  # a bug must not lose the input either
            log.exception("jobs.processing_failed", job_id=str(job.id))
            kind, error = "internal", f"internal: {type(error_).__name__}"
        else:
            metrics.INGEST_JOBS.labels("done").inc()
            return result
        async with self._database.transaction(job.tenant_id) as connection:
            if job.attempts >= self._max_attempts:
                await job_store.fail_job(connection, job.id, error)
                metrics.INGEST_JOBS.labels("failed").inc()
                log.error("jobs.failed", job_id=str(job.id), attempts=job.attempts, reason=kind)
            else:
                delay_s = min(2.0**job.attempts, MAX_BACKOFF_S)
                await job_store.retry_job_later(connection, job.id, error, delay_s)
                metrics.INGEST_JOBS.labels("retry").inc()
                log.warning(
                    "jobs.retry_scheduled", job_id=str(job.id), delay_s=delay_s, reason=kind
                )
            updated = await job_store.find_job(connection, job.tenant_id, job.id)
        assert updated is not None  # noqa: S101  # the row was just updated
        return _job(updated)
