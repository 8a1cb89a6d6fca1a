"""The wire format of /v1/search: its request and its response."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from service.api.schemas import FilterObject, MemoryOut, ScopeId
from service.models import SearchHit


class SearchRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Find the memories of a scope closest in meaning to ``query``."""

    query: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            description="What to look for, in natural language.",
            examples=["What can't Alice eat?"],
        ),
    ]
    user_id: ScopeId | None = None
    agent_id: ScopeId | None = None
    run_id: ScopeId | None = None
    filters: FilterObject | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100, description="How many results at most.")] = 10
    threshold: (
        Annotated[
            float, msgspec.Meta(ge=-1.0, le=1.0, description="Lowest cosine similarity returned.")
        ]
        | None
    ) = None
    mode: Annotated[
        Literal["vector", "keyword", "hybrid"],
        msgspec.Meta(
            description="vector: meaning only; keyword: full-text match of the query's words "
            "(BM25); hybrid (default): both rankings fused by score, lifting memories told on a "
            "date the query names and memories told beside a strong match."
        ),
    ] = "hybrid"


class SearchResult(msgspec.Struct):
    """A memory and its cosine similarity to the query (1 is identical)."""

    score: Annotated[
        float, msgspec.Meta(description="Cosine similarity to the query (1 is identical).")
    ]
    memory: MemoryOut

    @classmethod
    def of(cls, hit: SearchHit) -> SearchResult:
        return cls(score=round(hit.similarity, 6), memory=MemoryOut.of(hit.memory))


class SearchResponse(msgspec.Struct):
    """Results, most relevant first (``score`` is each one's cosine similarity to the query).

    ``strategy`` says whether the scope was ranked exactly or through the vector index.
    """

    results: Annotated[
        list[SearchResult], msgspec.Meta(description="The memories found, best first.")
    ]
    strategy: Annotated[
        Literal["exact", "hnsw"],
        msgspec.Meta(
            description="exact: the scope was ranked exactly; hnsw: through the vector index."
        ),
    ]
    mode: Annotated[
        Literal["vector", "keyword", "hybrid"],
        msgspec.Meta(description="How the results were ranked."),
    ]
