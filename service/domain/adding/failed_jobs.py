"""Failed ingestion jobs: listed with their reasons, and started again by an operator.

A job fails when it used up its attempts or met a failure a retry would meet again (a
truncated answer, a spent token budget). Nothing of it was stored, and its input is kept:
once the cause is fixed (the endpoint, the output cap), a retry gives it fresh attempts and a
fresh token budget. Works without an LLM configured, for jobs left from when one was.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from service.domain.adding.jobs import Job, job_from_record, job_not_found
from service.errors import Conflict, NotFound
from service.storage import jobs as job_store
from service.storage.database import Database, TenantSelector
from service.storage.jobs import JobRecord

# Where a listing of failed jobs stands: the (updated_at, id) of the last job shown.
JobPosition = tuple[datetime, uuid.UUID]


class FailedJobs:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def failed(
        self,
        tenant: TenantSelector,
        limit: int | None,
        after: JobPosition | None = None,
    ) -> list[Job]:
        """Jobs that used up their attempts or met a final failure, latest first (``limit``
        None: all of them)."""
        tenant_id = tenant if isinstance(tenant, uuid.UUID) else None
        async with self._database.connection(tenant) as connection:
            records = await job_store.list_failed_jobs(connection, tenant_id, limit, after)
        return [job_from_record(record) for record in records]

    async def page(
        self, tenant_id: uuid.UUID, limit: int, after: JobPosition | None
    ) -> tuple[list[Job], JobPosition | None]:
        """One page of a tenant's failed jobs, and where the next page starts (None: last)."""
        jobs = await self.failed(tenant_id, limit + 1, after)  # one more tells if there is more
        page = jobs[:limit]
        more = len(jobs) > limit
        return page, (page[-1].updated_at, page[-1].id) if more else None

    async def retry(self, tenant: TenantSelector, job_id: uuid.UUID) -> Job:
        """Queue a failed job again with fresh attempts and a fresh token budget."""
        tenant_id = tenant if isinstance(tenant, uuid.UUID) else None
        current: JobRecord | None = None
        async with self._database.transaction(tenant) as connection:
            requeued = await job_store.requeue_failed_job(connection, tenant_id, job_id)
            if requeued is None:
                current = await job_store.find_job(connection, tenant_id, job_id)
        if requeued is None:
            if current is None:
                if tenant_id is None:  # an operator's view: there is no API key to name
                    raise NotFound(f"no job with id {job_id} exists")
                raise job_not_found(job_id)
            raise Conflict(f"job {job_id} is {current.status}; only a failed job can be retried")
        return job_from_record(requeued)
