"""Reciprocal-rank fusion, on plain values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from service.domain.fusion import Ranking, reciprocal_rank_fusion
from service.models import Memory, Scope, SearchHit


def hit(text: str) -> SearchHit:
    now = datetime.now(UTC)
    return SearchHit(Memory(uuid.uuid4(), text, Scope(user_id="u"), {}, now, now), 0.5)


def texts(hits: list[SearchHit]) -> list[str]:
    return [h.memory.text for h in hits]


def test_agreement_between_rankings_lifts_a_memory() -> None:
    a, b, c = hit("a"), hit("b"), hit("c")

    fused = reciprocal_rank_fusion([Ranking([a, b, c]), Ranking([b])], k=60, limit=3)

    assert texts(fused) == ["b", "a", "c"]


def test_tied_scores_share_a_rank_so_the_other_ranking_decides() -> None:
    a, b, c = hit("a"), hit("b"), hit("c")

    fused = reciprocal_rank_fusion(
        [Ranking([c, b, a]), Ranking([a, b, c], scores=[0.1, 0.1, 0.1])], k=60, limit=3
    )

    assert texts(fused) == ["c", "b", "a"]


def test_weights_and_limit() -> None:
    a, b = hit("a"), hit("b")

    fused = reciprocal_rank_fusion([Ranking([a]), Ranking([b], weight=2.0)], k=60, limit=1)

    assert texts(fused) == ["b"]
