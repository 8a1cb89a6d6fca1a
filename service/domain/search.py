"""Semantic search within a scope that stays exact however many other rows the table holds.

Small scopes (the common case: one user's memories) are ranked exactly over the scope's
rows. Large scopes use the HNSW index with pgvector's iterative scans, which keep scanning
until enough rows pass the scope and filters instead of returning a starved result.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Literal, NamedTuple

import asyncpg

from service import metrics
from service.domain.fusion import score_fusion
from service.domain.ports import TextEmbedder
from service.domain.query_dates import TimeRange, created_within, dates_named_in, without_dates
from service.errors import InvalidRequest
from service.models import (
    Bm25Parameters,
    Candidate,
    FilterNode,
    Memory,
    Scope,
    SearchHit,
    Vector,
)
from service.storage import memories as store
from service.storage import vector_search
from service.storage.database import Database
from service.storage.keyword_search import (
    HybridRankings,
    search_hybrid_exact,
    search_keyword,
)

SearchMode = Literal["vector", "keyword", "hybrid"]


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """How a search ran, reported back so that callers can see it."""

    strategy: str  # "exact" or "hnsw": how the vector side ranked the scope
    mode: SearchMode


@dataclass(frozen=True, slots=True)
class HybridSettings:
    """How the keyword ranking is scored and fused with the vector ranking (the values, and
    what each does, are the ``MEMORY_HYBRID_*`` settings)."""

    keyword_weight: float  # most a keyword match adds to a cosine similarity
    candidates: int  # taken from each ranking before fusing
    date_weight: float  # added to memories told on a date the query names
    session_weight: float  # share of the way to the best score told alongside
    bm25: Bm25Parameters


class _Found(NamedTuple):
    plan: SearchPlan
    best: list[Candidate]
    memories: dict[uuid.UUID, Memory]
    ranked_at: float  # perf_counter() when both rankings were read
    fused_at: float  # and when they were fused


class SearchService:
    def __init__(
        self,
        database: Database,
        embedder: TextEmbedder,
        *,
        exact_max_rows: int,
        ef_search: int,
        hybrid: HybridSettings,
    ) -> None:
        self._database = database
        self._embedder = embedder
        self._exact_max_rows = exact_max_rows
        self._ef_search = ef_search
        self._hybrid = hybrid

    async def search(
        self,
        tenant_id: uuid.UUID,
        scope: Scope,
        query: str,
        filters: FilterNode | None,
        limit: int,
        threshold: float | None,
        mode: SearchMode = "hybrid",
    ) -> tuple[list[SearchHit], SearchPlan]:
        """The ``limit`` closest memories, best first, each scoring at least ``threshold``."""
        if scope.is_empty and filters is None:
            # Searching a whole tenant by accident is slow and rarely meant.
            raise InvalidRequest(
                "a search needs a scope or a filter: give user_id, agent_id, run_id or filters"
            )
        started = time.perf_counter()
        dates_named = (
            dates_named_in(query) if mode == "hybrid" and self._hybrid.date_weight > 0 else []
        )
        # What the query asks about, without the dates it names (matched on created_at).
        topic = without_dates(query) if dates_named else query
        vector = await self._embedder.embed_query(topic or query)
        embedded = time.perf_counter()
        # Hybrid takes more candidates from each side than it returns, then fuses them.
        depth = max(limit, self._hybrid.candidates) if mode == "hybrid" else limit

        async def ranked_and_read(connection: asyncpg.Connection) -> _Found:
            plan, (dense, sparse, keyword_scores) = await self._rankings(
                connection, tenant_id, scope, filters, query, vector, depth, mode
            )
            if dates_named:
                # The memories told on the dates named compete even when neither ranking
                # found them: the question may name the day rather than what happened.
                dense += await self._nearest(
                    connection,
                    tenant_id,
                    scope,
                    created_within(dates_named, filters),
                    vector,
                    depth,
                    plan,
                )
            ranked_at = time.perf_counter()
            best = self._best(mode, dense, sparse, keyword_scores, limit, dates_named, threshold)
            fused_at = time.perf_counter()
            # Only now are texts and metadata read: for the few returned, not every candidate.
            memories = await store.find_memories(connection, tenant_id, [f.id for f in best])
            return _Found(plan, best, memories, ranked_at, fused_at)

        # A replica may serve it (and it runs again on the primary if that replica fails).
        plan, best, memories, ranked_at, fused_at = await self._database.read(
            tenant_id, ranked_and_read
        )
        finished = time.perf_counter()
        metrics.SEARCH_LATENCY.labels(plan.strategy).observe(finished - started)
        metrics.SEARCH_PHASE_LATENCY.labels("embedding").observe(embedded - started)
        metrics.SEARCH_PHASE_LATENCY.labels("database").observe(
            ranked_at - embedded + finished - fused_at
        )
        metrics.SEARCH_PHASE_LATENCY.labels("fusion").observe(fused_at - ranked_at)
        # A memory deleted since its ranking was read is left out.
        hits = [SearchHit(memories[f.id], f.similarity) for f in best if f.id in memories]
        return hits, plan

    def _best(
        self,
        mode: SearchMode,
        dense: list[Candidate],
        sparse: list[Candidate],
        keyword_scores: list[float],
        limit: int,
        dates_named: list[TimeRange],
        threshold: float | None,
    ) -> list[Candidate]:
        """The ``limit`` best candidates, best first, none below ``threshold``."""
        if mode == "hybrid":
            best = score_fusion(
                dense,
                sparse,
                keyword_scores,
                self._hybrid.keyword_weight,
                limit,
                dates_named=dates_named,
                date_weight=self._hybrid.date_weight,
                session_weight=self._hybrid.session_weight,
            )
        else:
            best = (dense or sparse)[:limit]
        if threshold is None:
            return best
        # Best first, so dropping the tail keeps the true top-k above the threshold.
        return [found for found in best if found.similarity >= threshold]

    async def _rankings(
        self,
        connection: asyncpg.Connection,
        tenant_id: uuid.UUID,
        scope: Scope,
        filters: FilterNode | None,
        query: str,
        vector: Vector,
        depth: int,
        mode: SearchMode,
    ) -> tuple[SearchPlan, HybridRankings]:
        """How the scope was ranked; the vector ranking, the keyword ranking and its BM25
        scores (empty for a side the mode leaves out)."""
        bm25 = self._hybrid.bm25
        if mode == "hybrid":
            # A small scope (the common case): both rankings, and the count that tells it is
            # small, in one statement that reads its rows once.
            ranked = await search_hybrid_exact(
                connection,
                tenant_id,
                scope,
                filters,
                query,
                vector,
                depth,
                bm25,
                self._exact_max_rows,
            )
            if ranked is not None:
                return SearchPlan("exact", mode), ranked
            plan = SearchPlan("hnsw", mode)
        else:
            size = await vector_search.count_scope_up_to(
                connection, tenant_id, scope, self._exact_max_rows + 1
            )
            plan = SearchPlan("exact" if size <= self._exact_max_rows else "hnsw", mode)
        dense: list[Candidate] = []
        if mode != "keyword":
            dense = await self._nearest(connection, tenant_id, scope, filters, vector, depth, plan)
        if mode == "vector":
            return plan, HybridRankings(dense, [], [])
        sparse, scores = await search_keyword(
            connection, tenant_id, scope, filters, query, vector, depth, bm25
        )
        return plan, HybridRankings(dense, sparse, scores)

    async def _nearest(
        self,
        connection: asyncpg.Connection,
        tenant_id: uuid.UUID,
        scope: Scope,
        filters: FilterNode | None,
        vector: Vector,
        depth: int,
        plan: SearchPlan,
    ) -> list[Candidate]:
        if plan.strategy == "exact":
            return await vector_search.search_exact(
                connection, tenant_id, scope, filters, vector, depth
            )
        return await vector_search.search_with_index(
            connection, tenant_id, scope, filters, vector, depth, self._ef_search
        )
