"""What the operations endpoints report: readiness, and the gauges Prometheus scrapes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Literal

from service import metrics
from service.domain.adding import IngestJobs
from service.errors import DatabaseUnavailable, NotReady
from service.storage.database import Database


class Operations:
    """Readiness of this process, and the pool and queue gauges read when scraped."""

    def __init__(
        self, database: Database, model_is_loaded: Callable[[], bool], jobs: IngestJobs | None
    ) -> None:
        self._database = database
        self._model_is_loaded = model_is_loaded
        self._jobs = jobs
        self.shutting_down = False

    async def check_ready(self) -> None:
        """Raise unless this process should get traffic: the database answers, the model is
        loaded, and it is not shutting down."""
        if self.shutting_down:
            raise NotReady("the service is shutting down")
        if not self._model_is_loaded():
            raise NotReady("the embedding model is not loaded yet")
        if not await self._database.is_reachable():
            raise DatabaseUnavailable("the database is unreachable")

    @property
    def llm_status(self) -> Literal["ok", "degraded"] | None:
        """ok or degraded (repeated failures hold LLM calls back); None without an LLM."""
        if self._jobs is None:
            return None
        return "degraded" if self._jobs.llm_degraded else "ok"

    async def refresh_gauges(self) -> None:
        in_use, idle, maximum = self._database.pool_usage()
        metrics.DB_POOL_CONNECTIONS.labels("in_use").set(in_use)
        metrics.DB_POOL_CONNECTIONS.labels("idle").set(idle)
        metrics.DB_POOL_CONNECTIONS.labels("max").set(maximum)
        if self._jobs is not None:
            # A scrape during an outage still answers, with the last known queue figures.
            with contextlib.suppress(DatabaseUnavailable):
                await self._jobs.refresh_metrics()
