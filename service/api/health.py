"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State

from service.api.problems import problem_response, problem_responses
from service.api.schemas import Health, Problem


@get("/healthz", operation_id="getLiveness", summary="Liveness: the process is up", tags=["operations"])
async def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    operation_id="getReadiness",
    summary="Readiness: the database answers and the model is loaded",
    tags=["operations"],
    responses=problem_responses(503),
)
async def readyz(request: Request[Any, Any, Any], state: State) -> Response[Health | Problem]:
    if state.shutting_down:
        return problem_response(request, 503, "the service is shutting down")
    if not state.embedder.is_loaded:
        return problem_response(request, 503, "the embedding model is not loaded yet")
    if not await state.database.is_reachable():
        return problem_response(request, 503, "the database is unreachable")
    return Response(Health(status="ready", database=True, model=True))
