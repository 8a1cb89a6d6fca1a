"""/v1/search: semantic search within a scope."""

from __future__ import annotations

from litestar import Controller, post

from service.api.problems import problem_responses
from service.api.search_schemas import SearchRequest, SearchResponse, SearchResult
from service.domain.filters import parse_filter
from service.domain.search import SearchPlan, SearchService
from service.models import Scope, SearchHit, Tenant


class SearchController(Controller):
    path = "/v1/search"
    tags = ["search"]  # noqa: RUF012  # Litestar reads this class attribute

    @post(
        "/",
        operation_id="searchMemories",
        summary="Search memories by meaning",
        status_code=200,
        responses=problem_responses(400, 401, 413, 422, 503),
    )
    async def search(
        self, data: SearchRequest, tenant: Tenant, search_service: SearchService
    ) -> SearchResponse:
        """The memories closest to the query within a scope (or a filter), best first. mode hybrid
        (default) fuses vector similarity with full-text ranking."""
        hits, plan = await search_service.search(
            tenant.id,
            Scope(data.user_id, data.agent_id, data.run_id),
            data.query,
            parse_filter(data.filters),
            data.limit,
            data.threshold,
            data.mode,
        )
        return search_response(hits, plan)


def search_response(hits: list[SearchHit], plan: SearchPlan) -> SearchResponse:
    return SearchResponse(
        results=[SearchResult.of(hit) for hit in hits],
        strategy=plan.strategy,  # type: ignore[arg-type]  # SearchPlan names one of the two
        mode=plan.mode,
    )
