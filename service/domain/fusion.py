"""Reciprocal-rank fusion of ranked result lists (Cormack et al., SIGIR 2009).

Each list contributes ``weight / (k + rank)`` to a memory's fused score: agreement between
lists lifts a memory, and no list's raw scores need to be comparable with another's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from service.models import SearchHit


@dataclass(frozen=True, slots=True)
class Ranking:
    """One ranked list. ``scores`` (best first) make equal scores share a rank: a word that
    every memory of the scope contains (the user's own name) must not order them at random."""

    hits: list[SearchHit]
    weight: float = 1.0
    scores: list[float] | None = None

    def ranks(self) -> list[int]:
        if self.scores is None:
            return list(range(1, len(self.hits) + 1))
        ranks, previous = [], None
        for position, score in enumerate(self.scores, start=1):
            ranks.append(ranks[-1] if score == previous else position)
            previous = score
        return ranks


def reciprocal_rank_fusion(rankings: list[Ranking], k: float, limit: int) -> list[SearchHit]:
    """Fuse rankings; equal fused scores keep the order of the first ranking that had them."""
    fused: dict[uuid.UUID, float] = {}
    hits_by_id: dict[uuid.UUID, SearchHit] = {}
    for ranking in rankings:
        for rank, hit in zip(ranking.ranks(), ranking.hits, strict=True):
            fused[hit.memory.id] = fused.get(hit.memory.id, 0.0) + ranking.weight / (k + rank)
            hits_by_id.setdefault(hit.memory.id, hit)
    order = sorted(fused, key=lambda memory_id: fused[memory_id], reverse=True)
    return [hits_by_id[memory_id] for memory_id in order[:limit]]
