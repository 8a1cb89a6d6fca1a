"""Score fusion of the vector and keyword rankings, on plain values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from service.domain.fusion import score_fusion
from service.domain.query_dates import TimeRange
from service.models import Candidate

NAMES: dict[uuid.UUID, str] = {}  # what each candidate stands for, to read results by


def hit(text: str, cosine: float) -> Candidate:
    return told(text, cosine, datetime.now(UTC))


def told(text: str, cosine: float, when: datetime) -> Candidate:
    candidate = Candidate(uuid.uuid4(), when, cosine)
    NAMES[candidate.id] = text
    return candidate


def texts(candidates: list[Candidate]) -> list[str]:
    return [NAMES[candidate.id] for candidate in candidates]


def test_a_strong_keyword_match_overtakes_a_slightly_closer_vector() -> None:
    close, matching = hit("close", 0.60), hit("matching", 0.50)

    fused = score_fusion([close, matching], [matching], [7.5], keyword_weight=0.35, limit=2)

    assert texts(fused) == ["matching", "close"]
    assert [h.similarity for h in fused] == [0.50, 0.60]  # each keeps its cosine


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


def test_a_memory_told_on_the_date_the_query_names_gains_the_date_weight() -> None:
    may_3 = datetime(2023, 5, 3, tzinfo=UTC)
    other_day = told("other day", 0.70, datetime(2023, 6, 10, tzinfo=UTC))
    that_day = told("that day", 0.50, may_3 + timedelta(hours=21))
    named = [TimeRange(may_3, may_3 + timedelta(days=1))]

    def fused(weight: float) -> list[str]:
        return texts(
            score_fusion(
                [other_day, that_day], [], [], 0.35, 2, dates_named=named, date_weight=weight
            )
        )

    assert fused(0.0) == ["other day", "that day"]
    assert fused(0.1) == ["other day", "that day"]  # 0.60 < 0.70
    assert fused(0.3) == ["that day", "other day"]  # 0.80 > 0.70


def test_memories_told_alongside_a_strong_hit_rise_with_it() -> None:
    session = datetime(2023, 5, 3, 21, tzinfo=UTC)
    found = told("the fact found", 0.80, session)
    beside = told("the detail told beside it", 0.40, session + timedelta(minutes=10))
    alone = told("a loose match from another day", 0.45, datetime(2023, 1, 1, tzinfo=UTC))
    hits = [found, alone, beside]

    assert texts(score_fusion(hits, [], [], 0.35, 3)) == [
        "the fact found",
        "a loose match from another day",
        "the detail told beside it",
    ]
    # 0.40 + 0.2 * (0.80 - 0.40) = 0.48 > 0.45, alone in its session; the best stays at 0.80
    assert texts(score_fusion(hits, [], [], 0.35, 3, session_weight=0.2)) == [
        "the fact found",
        "the detail told beside it",
        "a loose match from another day",
    ]


def test_a_session_of_weaker_matches_does_not_overtake_a_better_one_from_elsewhere() -> None:
    session = datetime(2023, 5, 3, 21, tzinfo=UTC)
    first = told("a fair match", 0.60, session)
    second = told("another fair match", 0.58, session + timedelta(minutes=5))
    better = told("the better match from another day", 0.65, datetime(2023, 1, 1, tzinfo=UTC))

    # The session's best keeps 0.60; its other member rises to 0.58 + 0.4 * 0.02.
    assert texts(score_fusion([first, second, better], [], [], 0.35, 3, session_weight=0.4)) == [
        "the better match from another day",
        "a fair match",
        "another fair match",
    ]
