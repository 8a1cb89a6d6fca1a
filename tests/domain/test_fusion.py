"""Score fusion of the vector and keyword rankings, on plain values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from service.domain.fusion import score_fusion
from service.models import Memory, Scope, SearchHit


def hit(text: str, cosine: float) -> SearchHit:
    now = datetime.now(UTC)
    return SearchHit(Memory(uuid.uuid4(), text, Scope(user_id="u"), {}, now, now), cosine)


def texts(hits: list[SearchHit]) -> list[str]:
    return [h.memory.text for h in hits]


def test_a_strong_keyword_match_overtakes_a_slightly_closer_vector() -> None:
    close, matching = hit("close", 0.60), hit("matching", 0.50)

    fused = score_fusion([close, matching], [matching], [7.5], keyword_weight=0.35, limit=2)

    assert texts(fused) == ["matching", "close"]
    assert [h.score for h in fused] == [0.50, 0.60]  # each hit keeps its cosine


def test_keyword_scores_count_relative_to_the_best_one() -> None:
    a, b, c = hit("a", 0.40), hit("b", 0.45), hit("c", 0.44)

    # a's weak match (a tenth of the best) adds 0.035: not enough to pass c or b.
    fused = score_fusion([b, c, a], [b, a], [10.0, 1.0], keyword_weight=0.35, limit=3)

    assert texts(fused) == ["b", "c", "a"]


def test_far_vector_gaps_are_not_bridged_by_words() -> None:
    near, worded = hit("near", 0.80), hit("worded", 0.30)

    fused = score_fusion([near], [worded], [3.0], keyword_weight=0.35, limit=2)

    assert texts(fused) == ["near", "worded"]


def test_no_keyword_match_leaves_the_vector_order_and_the_limit_applies() -> None:
    a, b, c = hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)

    assert texts(score_fusion([a, b, c], [], [], keyword_weight=0.35, limit=2)) == ["a", "b"]
