"""/v1/jobs: the status and outcome of asynchronous adds."""

from __future__ import annotations

import uuid

import msgspec
from litestar import Controller, get
from litestar.di import Provide

from service.api.dependencies import provide_ingest_jobs
from service.api.problems import problem_responses
from service.api.schemas import AddMemoryResponse, IngestJob
from service.domain.jobs import IngestJobs, job_not_found
from service.storage.jobs import JobRecord
from service.storage.tenants import Tenant


def job_out(job: JobRecord) -> IngestJob:
    return IngestJob(
        id=job.id,
        status=job.status,  # type: ignore[arg-type]  # the table's CHECK allows only these
        attempts=job.attempts,
        last_error=job.last_error,
        result=msgspec.convert(job.result, AddMemoryResponse) if job.result else None,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


class JobsController(Controller):
    path = "/v1/jobs"
    tags = ["jobs"]  # noqa: RUF012  # Litestar reads this class attribute
    dependencies = {"jobs": Provide(provide_ingest_jobs, sync_to_thread=False)}  # noqa: RUF012

    @get(
        "/{job_id:uuid}",
        operation_id="getJob",
        summary="Status and outcome of an asynchronous add",
        responses=problem_responses(400, 401, 404, 503),
    )
    async def get_job(
        self, job_id: uuid.UUID, tenant: Tenant, jobs: IngestJobs | None
    ) -> IngestJob:
        """Poll an add answered with 202: status, attempts, the last error, and the result
        once done."""
        if jobs is None:  # no LLM configured: no job was ever created
            raise job_not_found(job_id)
        return job_out(await jobs.get(tenant.id, job_id))
