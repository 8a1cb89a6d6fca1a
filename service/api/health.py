"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from litestar import get
from prometheus_client import generate_latest

from service import metrics
from service.api.problems import problem_responses
from service.api.schemas import Health
from service.domain.operations import Operations

# Probes and the Prometheus scrape need no key; OpenAPI says so with an empty requirement.
NO_API_KEY: list[dict[str, list[str]]] = [{}]


@get(
    "/healthz",
    operation_id="getLiveness",
    summary="Liveness: the process is up",
    tags=["operations"],
    security=NO_API_KEY,
)
async def healthz() -> Health:
    """200 while the process can answer; no dependency is checked (use for liveness probes)."""
    return Health(status="ok")


@get(
    "/readyz",
    operation_id="getReadiness",
    summary="Readiness: the database answers and the model is loaded",
    tags=["operations"],
    security=NO_API_KEY,
    responses=problem_responses(503),
)
async def readyz(operations: Operations) -> Health:
    """200 when Postgres answers and the model is loaded; 503 otherwise and while shutting down
    (use for readiness probes). ``llm`` says whether the LLM step is degraded, without
    affecting readiness: everything but inference keeps working."""
    await operations.check_ready()
    return Health(status="ready", database=True, model=True, llm=operations.llm_status)


@get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics (text exposition format)",
    tags=["operations"],
    security=NO_API_KEY,
    media_type="text/plain; version=0.0.4",
)
async def prometheus_metrics(operations: Operations) -> str:
    """Request, search, embedding, LLM, job-queue and pool metrics. Labels never carry tenant
    data."""
    await operations.refresh_gauges()
    return generate_latest(metrics.REGISTRY).decode()
