"""Semantic search within a scope that stays exact however many other rows the table holds.

Small scopes (the common case: one user's memories) are ranked exactly over the scope's
rows. Large scopes use the HNSW index with pgvector's iterative scans, which keep scanning
until enough rows pass the scope and filters instead of returning a starved result.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from service import metrics
from service.adapters.embedder import Embedder
from service.errors import InvalidRequest
from service.models import FilterNode, Scope, SearchHit
from service.storage import memories as store
from service.storage.database import Database


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """How a search ran, reported back so that callers can see it."""

    strategy: str  # "exact" or "hnsw"


class SearchService:
    def __init__(
        self, database: Database, embedder: Embedder, *, exact_max_rows: int, ef_search: int
    ) -> None:
        self._database = database
        self._embedder = embedder
        self._exact_max_rows = exact_max_rows
        self._ef_search = ef_search

    async def search(
        self,
        tenant_id: uuid.UUID,
        scope: Scope,
        query: str,
        filters: FilterNode | None,
        limit: int,
        threshold: float | None,
    ) -> tuple[list[SearchHit], SearchPlan]:
        """The ``limit`` closest memories, best first, each scoring at least ``threshold``."""
        if scope.is_empty:
            raise InvalidRequest("a search needs a scope: give user_id, agent_id and/or run_id")
        started = time.perf_counter()
        vector = await self._embedder.embed_one(query)
        async with self._database.transaction() as connection:
            size = await store.count_scope_up_to(
                connection, tenant_id, scope, self._exact_max_rows + 1
            )
            if size <= self._exact_max_rows:
                plan = SearchPlan("exact")
                hits = await store.search_exact(
                    connection, tenant_id, scope, filters, vector, limit
                )
            else:
                plan = SearchPlan("hnsw")
                hits = await store.search_with_index(
                    connection, tenant_id, scope, filters, vector, limit, self._ef_search
                )
        metrics.SEARCH_LATENCY.labels(plan.strategy).observe(time.perf_counter() - started)
        if threshold is not None:
            # Hits arrive best first, so dropping the tail keeps the true top-k above threshold.
            hits = [hit for hit in hits if hit.score >= threshold]
        return hits, plan
