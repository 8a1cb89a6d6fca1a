"""Gauges read from state (pool, job queue), refreshed when Prometheus scrapes."""

from __future__ import annotations

import contextlib

from service import metrics
from service.domain.jobs import IngestJobs
from service.errors import DatabaseUnavailable
from service.storage.database import Database


async def refresh_gauges(database: Database, jobs: IngestJobs | None) -> None:
    in_use, idle, maximum = database.pool_usage()
    metrics.DB_POOL_CONNECTIONS.labels("in_use").set(in_use)
    metrics.DB_POOL_CONNECTIONS.labels("idle").set(idle)
    metrics.DB_POOL_CONNECTIONS.labels("max").set(maximum)
    if jobs is not None:
        # A scrape during an outage still answers, with the last known queue figures.
        with contextlib.suppress(DatabaseUnavailable):
            await jobs.refresh_metrics()
