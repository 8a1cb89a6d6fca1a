"""Durable ingestion: the input is stored as a job before any work, so nothing acknowledged
is ever lost; failures are retried with backoff by workers that claim jobs from Postgres.

A synchronous add waits for its job a bounded time, then answers with the job, which goes on
in the background. A job's LLM spend is kept across its attempts, so its token budget holds
over retries. Failures that a retry would meet again (a truncated answer, a spent budget)
fail the job at once; failed jobs are listed, and an operator can start them again.
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
from service.domain.adding.breaker import CircuitBreaker, unavailable
from service.domain.adding.codec import decode_request, decode_result, encode_request
from service.domain.adding.pipeline import IngestPipeline, LeaseLost, StaleCandidatesPersist
from service.domain.adding.request import AddRequest
from service.domain.adding.results import AddResult, spend_of
from service.domain.ports import LlmFailure, LlmUsage
from service.errors import NotFound
from service.storage import jobs as job_store
from service.storage.database import ALL_TENANTS, Database
from service.storage.jobs import JobLease, JobRecord, JobSpend

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
    tenant_id: uuid.UUID
    spend: JobSpend  # the LLM calls and tokens of every attempt so far


def job_from_record(record: JobRecord) -> Job:
    return Job(
        record.id,
        record.status,  # type: ignore[arg-type]  # the table's CHECK allows only these
        record.attempts,
        record.last_error,
        decode_result(record.result) if record.result is not None else None,
        record.created_at,
        record.updated_at,
        record.tenant_id,
        JobSpend(record.llm_calls, record.prompt_tokens, record.completion_tokens),
    )


@dataclass(frozen=True, slots=True)
class JobLimits:
    max_attempts: int
    lease_s: float
    sync_wait_s: float  # the longest a synchronous add waits before answering with its job
    token_budget: int  # tokens one add may spend over all its attempts


class IngestJobs:
    def __init__(
        self,
        database: Database,
        pipeline: IngestPipeline,
        limits: JobLimits,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._database = database
        self._pipeline = pipeline
        self._limits = limits
        self._breaker = breaker
        self._wake = asyncio.Event()
        self._in_background: set[asyncio.Task[AddResult | Job]] = set()

    @property
    def llm_degraded(self) -> bool:
        """Whether the circuit breaker holds LLM calls back."""
        return self._breaker is not None and self._breaker.state != "closed"

    async def submit(self, tenant_id: uuid.UUID, request: AddRequest) -> Job:
        """Store the input and return at once; a worker processes it."""
        async with self._database.transaction(tenant_id) as connection:
            job = await job_store.insert_job(connection, tenant_id, encode_request(request))
        self._wake.set()
        return job_from_record(job)

    async def run_now(self, tenant_id: uuid.UUID, request: AddRequest) -> AddResult | Job:
        """Store the input, then process it in this request for at most the synchronous wait.
        The result; or the job, still running in the background, left queued after an LLM
        failure (``last_error`` says why), or deferred at once while the LLM is held back."""
        if self._breaker is not None and self._breaker.wait_s() > 0:
            return await self._defer(tenant_id, request, self._breaker)
        async with self._database.transaction(tenant_id) as connection:
            # Leased to this request from the start, so no worker takes it meanwhile; if this
            # process dies, the lease expires and a worker finishes the job.
            job = await job_store.insert_job(
                connection, tenant_id, encode_request(request), lease_s=self._limits.lease_s
            )
        # The work is a task of its own: it goes on when the wait ends or the client leaves.
        work = asyncio.create_task(self._process(job, request), name=f"ingest-{job.id}")
        self._in_background.add(work)
        work.add_done_callback(self._in_background.discard)
        done, _ = await asyncio.wait({work}, timeout=self._limits.sync_wait_s)
        if work in done:
            return work.result()
        return await self.get(tenant_id, job.id)

    async def _defer(
        self, tenant_id: uuid.UUID, request: AddRequest, breaker: CircuitBreaker
    ) -> Job:
        failure = unavailable(breaker, LlmUsage())
        async with self._database.transaction(tenant_id) as connection:
            job = await job_store.insert_job(
                connection,
                tenant_id,
                encode_request(request),
                note=f"{failure.kind}: {failure.detail}",
                delay_s=breaker.wait_s(),
            )
        return job_from_record(job)

    async def stop(self) -> None:
        """Cut off the work synchronous adds left running: each job keeps its lease and a
        worker takes it up when the lease expires."""
        for work in list(self._in_background):
            work.cancel()
        await asyncio.gather(*self._in_background, return_exceptions=True)

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
        return job_from_record(job)

    async def work(self, stop: asyncio.Event | None = None, poll_interval_s: float = 1.0) -> None:
        """Claim and process jobs until ``stop`` is set (the current job finishes first) or
        the task is cancelled (the job keeps its lease and is retried when it expires).
        While the circuit breaker holds LLM calls back, no job is claimed."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            held_back_s = self._breaker.wait_s() if self._breaker is not None else 0.0
            job = None if held_back_s > 0 else await self._claim()
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll_interval_s)
                continue
            try:
                await self._process(job, decode_request(job.request))
            except Exception:  # e.g. the database went away: the lease expires, it is retried
                log.exception("jobs.process_failed", job_id=str(job.id))

    async def _claim(self) -> JobRecord | None:
        try:
            async with self._database.transaction(ALL_TENANTS) as connection:
                return await job_store.claim_job(connection, self._limits.lease_s)
        except Exception:  # keep the worker alive through database outages
            log.exception("jobs.claim_failed")
            return None

    async def _process(self, job: JobRecord, request: AddRequest) -> AddResult | Job:
        usage = LlmUsage(
            job.llm_calls,
            job.prompt_tokens,
            job.completion_tokens,
            token_budget=self._limits.token_budget,
        )
        lease = JobLease(job.id, job.attempts)
        kind: str  # what the log may say of a failure; ``error`` (stored) may quote the LLM
        final = False
        renewal = asyncio.create_task(self._keep_leased(job.tenant_id, lease))
        try:
            result = await self._pipeline.run(job.tenant_id, request, lease, usage)
        except LeaseLost:
            log.warning("jobs.lease_lost", job_id=str(job.id))
            return await self.get(job.tenant_id, job.id)
        except LlmFailure as failure:
            kind, error, final = failure.kind, f"{failure.kind}: {failure.detail}", failure.is_final
            if failure.kind == "unavailable":
                return await self._hold_back(job, error, usage, failure.retry_after_s or 1.0)
        except StaleCandidatesPersist as conflict:
            # Other adds kept changing this scope's memories: nothing is wrong, try later.
            kind, error = "contention", f"contention: {conflict.detail}"
        except Exception as error_:  # a bug must not lose the input either
            log.exception("jobs.processing_failed", job_id=str(job.id))
            kind, error = "internal", f"internal: {type(error_).__name__}"
        else:
            metrics.INGEST_JOBS.labels("done").inc()
            return result
        finally:
            renewal.cancel()
        return await self._after_failure(job, kind, error, usage, final=final)

    async def _keep_leased(self, tenant_id: uuid.UUID, lease: JobLease) -> None:
        """Renew the lease while the job is processed, so that no worker takes over a job that
        is slow but alive (a long LLM call, a synchronous add's job going on after its wait)."""
        while True:
            await asyncio.sleep(self._limits.lease_s / 3)
            try:
                async with self._database.transaction(tenant_id) as connection:
                    if not await job_store.renew_lease(connection, lease, self._limits.lease_s):
                        return
            except Exception:  # e.g. the database is away: the lease may lapse, as designed
                log.warning("jobs.lease_renewal_failed", job_id=str(lease.id))

    async def _after_failure(
        self, job: JobRecord, kind: str, error: str, usage: LlmUsage, *, final: bool
    ) -> Job:
        lease = JobLease(job.id, job.attempts)
        async with self._database.transaction(job.tenant_id) as connection:
            if final or job.attempts >= self._limits.max_attempts:
                if await job_store.fail_job(connection, lease, error, spend_of(usage)):
                    metrics.INGEST_JOBS.labels("failed").inc()
                    log.error("jobs.failed", job_id=str(job.id), attempts=job.attempts, reason=kind)
            else:
                delay_s = min(2.0**job.attempts, MAX_BACKOFF_S)
                if await job_store.retry_job_later(
                    connection, lease, error, delay_s, spend_of(usage)
                ):
                    metrics.INGEST_JOBS.labels("retry").inc()
                    log.warning(
                        "jobs.retry_scheduled", job_id=str(job.id), delay_s=delay_s, reason=kind
                    )
            updated = await job_store.find_job(connection, job.tenant_id, job.id)
        assert updated is not None  # noqa: S101  # the row was just updated
        return job_from_record(updated)

    async def _hold_back(self, job: JobRecord, error: str, usage: LlmUsage, delay_s: float) -> Job:
        """The breaker held the call back: nothing was tried, the attempt is given back."""
        async with self._database.transaction(job.tenant_id) as connection:
            await job_store.retry_job_later(
                connection,
                JobLease(job.id, job.attempts),
                error,
                delay_s,
                spend_of(usage),
                attempted=False,
            )
            updated = await job_store.find_job(connection, job.tenant_id, job.id)
        assert updated is not None  # noqa: S101  # the row was just updated
        return job_from_record(updated)
