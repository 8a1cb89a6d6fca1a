"""/v1/jobs: the status and outcome of asynchronous adds."""

from __future__ import annotations

import uuid

from litestar import Controller, get

from service.api.problems import problem_responses
from service.api.schemas import AddMemoryResponse, IngestJob, LlmUsageOut, MemoryOut
from service.api.schemas import AddResult as AddResultOut
from service.api.schemas import RejectedDecision as RejectedDecisionOut
from service.domain.adding import AddResult, IngestJobs, Job, job_not_found
from service.models import Tenant


def add_response(result: AddResult) -> AddMemoryResponse:
    """The wire form of an add's result (native dialect)."""
    return AddMemoryResponse(
        results=[
            AddResultOut(
                event=outcome.event,
                memory=MemoryOut.of(outcome.memory),
                fact=outcome.fact,
                previous_text=outcome.previous_text,
            )
            for outcome in result.outcomes
        ],
        llm_used=result.llm_used,
        rejected=[RejectedDecisionOut(r.fact, r.event, r.reason) for r in result.rejected],
        usage=LlmUsageOut(
            llm_calls=result.usage.calls,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            llm_latency_ms=round(result.usage.latency_ms, 2),
        ),
        prompt_version=result.prompt_version,
    )


def job_out(job: Job) -> IngestJob:
    return IngestJob(
        id=job.id,
        status=job.status,
        attempts=job.attempts,
        last_error=job.last_error,
        result=add_response(job.result) if job.result is not None else None,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


class JobsController(Controller):
    path = "/v1/jobs"
    tags = ["jobs"]  # noqa: RUF012  # Litestar reads this class attribute

    @get(
        "/{job_id:uuid}",
        operation_id="getJob",
        summary="Status and outcome of an asynchronous add",
        responses=problem_responses(400, 401, 404, 503),
    )
    async def get_job(
        self, job_id: uuid.UUID, tenant: Tenant, ingest_jobs: IngestJobs | None
    ) -> IngestJob:
        """Poll an add answered with 202: status, attempts, the last error, and the result
        once done."""
        if ingest_jobs is None:  # no LLM configured: no job was ever created
            raise job_not_found(job_id)
        return job_out(await ingest_jobs.get(tenant.id, job_id))
