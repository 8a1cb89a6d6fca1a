"""/v1/jobs: the status and outcome of asynchronous adds; failed ones listed and retried."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, Response, get, post
from litestar.params import Parameter

from service.api.add_schemas import AddMemoryResponse, LlmUsageOut
from service.api.add_schemas import AddResult as AddResultOut
from service.api.add_schemas import RejectedDecision as RejectedDecisionOut
from service.api.cursors import decode_cursor, encode_cursor
from service.api.job_schemas import IngestJob, IngestJobList
from service.api.problems import problem_responses
from service.api.schemas import MemoryOut
from service.consistency import note_writes_reported
from service.domain.adding import AddResult, IngestJobs, Job, job_not_found
from service.domain.adding.failed_jobs import FailedJobs
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
            token_budget=result.usage.token_budget,
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
        llm_calls=job.spend.llm_calls,
        tokens_used=job.spend.prompt_tokens + job.spend.completion_tokens,
    )


MAX_JOBS_PER_PAGE = 500


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
        job = await ingest_jobs.get(tenant.id, job_id)
        if job.status == "done":
            # Read on the primary after the job committed: the WAL position now is past its
            # writes, so this answer's token lets a search on a replica see them.
            note_writes_reported()
        return job_out(job)

    @get(
        "/",
        operation_id="listJobs",
        summary="List failed asynchronous adds",
        responses=problem_responses(400, 401, 422, 503),
    )
    async def list_jobs(
        self,
        tenant: Tenant,
        failed_jobs: FailedJobs,
        status: Annotated[
            Literal["failed"],
            Parameter(description="Which jobs: failed (attempts used up, or a final failure)."),
        ],
        limit: Annotated[int, Parameter(ge=1, le=MAX_JOBS_PER_PAGE)] = 50,
        cursor: Annotated[
            str | None, Parameter(description="next_cursor of the previous page.")
        ] = None,
    ) -> IngestJobList:
        """Jobs that failed, the most recently failed first, each with the reason in
        last_error. Nothing of theirs was stored; POST /v1/jobs/{id}/retry runs one again."""
        page, after = await failed_jobs.page(tenant.id, limit, decode_cursor(cursor))
        return IngestJobList(
            jobs=[job_out(job) for job in page],
            next_cursor=encode_cursor(*after) if after is not None else None,
        )

    @post(
        "/{job_id:uuid}/retry",
        operation_id="retryJob",
        summary="Run a failed asynchronous add again",
        status_code=202,
        responses=problem_responses(400, 401, 404, 409, 503),
    )
    async def retry_job(
        self, job_id: uuid.UUID, tenant: Tenant, failed_jobs: FailedJobs
    ) -> Response[IngestJob]:
        """Queue a failed job again with fresh attempts and a fresh token budget (e.g. after
        the LLM endpoint or MEMORY_LLM_MAX_OUTPUT_TOKENS was fixed). 409 unless it failed."""
        return Response(job_out(await failed_jobs.retry(tenant.id, job_id)), status_code=202)
