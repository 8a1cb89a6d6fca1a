"""Fusion of the vector and keyword rankings by their scores.

A memory's fused score is its cosine similarity plus ``keyword_weight`` times its BM25 score
divided by the best BM25 score of the query, so the keyword side adds at most
``keyword_weight`` and a memory no keyword matched keeps its cosine. Unlike reciprocal-rank
fusion, how far apart two memories are on each side counts, not only their order. Measured
over HTTP on the LoCoMo dev split (`python -m benchmarks.locomo`), recall@5 / @10 went from
0.625 / 0.669 (RRF k=60 over ts_rank_cd) to 0.659 / 0.699 on the observations and from
0.559 / 0.654 to 0.669 / 0.741 on the turns, together with BM25 for the keyword ranking.
"""

from __future__ import annotations

import uuid

from service.models import SearchHit


def score_fusion(
    dense: list[SearchHit],
    keyword: list[SearchHit],
    keyword_scores: list[float],
    keyword_weight: float,
    limit: int,
) -> list[SearchHit]:
    """The ``limit`` best of both lists, best first; each hit keeps its cosine as its score.

    ``keyword_scores`` are the BM25 scores of ``keyword``, best first. Equal fused scores keep
    the vector side's order.
    """
    best_keyword = max(keyword_scores, default=0.0)
    bonus = {
        hit.memory.id: keyword_weight * score / best_keyword
        for hit, score in zip(keyword, keyword_scores, strict=True)
        if best_keyword > 0
    }
    hits_by_id: dict[uuid.UUID, SearchHit] = {}
    for hit in [*dense, *keyword]:
        hits_by_id.setdefault(hit.memory.id, hit)
    order = sorted(
        hits_by_id.values(),
        key=lambda hit: hit.score + bonus.get(hit.memory.id, 0.0),
        reverse=True,
    )
    return order[:limit]
