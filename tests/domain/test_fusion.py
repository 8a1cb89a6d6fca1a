"""Score fusion of the vector and keyword rankings, on plain values: examples, then the
properties the fusion promises (see service/domain/fusion.py)."""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.fusion import SESSION_GAP, score_fusion
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


# --- properties -----------------------------------------------------------------------------

BASE = datetime(2023, 5, 3, 20, tzinfo=UTC)
# Cosines, weights and BM25 ratios on dyadic grids: every sum and product the fusion makes is
# then exact, so ties and orders are those of the real numbers, not of rounding.
GRID = st.integers(-64, 64).map(lambda k: k / 64)
WEIGHTS = st.integers(0, 8).map(lambda k: k / 8)
BM25 = st.sampled_from([1.0, 2.0, 4.0, 8.0])


@dataclass(frozen=True)
class Rankings:
    """What the two searches found: the vector side best first, the keyword side with its BM25
    scores best first; a memory may be on either side or both (the same candidate)."""

    dense: list[Candidate]
    keyword: list[Candidate]
    scores: list[float]

    @property
    def found(self) -> list[Candidate]:
        return list({c.id: c for c in [*self.dense, *self.keyword]}.values())

    def with_cosine(self, chosen: Candidate, cosine: float) -> Rankings:
        """The same rankings, ``chosen`` at ``cosine`` (each list keeps its order)."""
        changed = replace(chosen, similarity=cosine)

        def swap(side: list[Candidate]) -> list[Candidate]:
            return [changed if c.id == chosen.id else c for c in side]

        return Rankings(swap(self.dense), swap(self.keyword), self.scores)


@st.composite
def rankings(
    draw: st.DrawFn,
    cosines: st.SearchStrategy[float] = GRID,
    bm25: st.SearchStrategy[float] = BM25,
) -> Rankings:
    count = draw(st.integers(1, 8))
    found = [
        Candidate(
            uuid.UUID(int=n), BASE + timedelta(minutes=draw(st.integers(0, 300))), draw(cosines)
        )
        for n in range(count)
    ]
    sides = [draw(st.sampled_from(["dense", "keyword", "both"])) for _ in found]
    dense = [c for c, side in zip(found, sides, strict=True) if side != "keyword"]
    dense.sort(key=lambda c: -c.similarity)
    keyword = [(c, draw(bm25)) for c, side in zip(found, sides, strict=True) if side != "dense"]
    keyword.sort(key=lambda pair: -pair[1])
    return Rankings(dense, [c for c, _ in keyword], [score for _, score in keyword])


def fuse(
    found: Rankings,
    keyword_weight: float,
    *,
    limit: int | None = None,
    dates_named: list[TimeRange] | None = None,
    date_weight: float = 0.0,
    session_weight: float = 0.0,
) -> list[Candidate]:
    return score_fusion(
        found.dense,
        found.keyword,
        found.scores,
        keyword_weight,
        len(found.found) if limit is None else limit,
        dates_named=dates_named,
        date_weight=date_weight,
        session_weight=session_weight,
    )


def the_spec(found: Rankings, keyword_weight: float) -> dict[uuid.UUID, float]:
    """The fused score as the module's docstring defines it (no dates, no sessions)."""
    best = max(found.scores, default=0.0)
    pairs = zip(found.keyword, found.scores, strict=True)
    bonus = {c.id: keyword_weight * score / best for c, score in pairs}
    return {c.id: c.similarity + bonus.get(c.id, 0.0) for c in found.found}


@settings(max_examples=200, deadline=None)
@given(
    found=rankings(),
    limit=st.integers(1, 10),
    weights=st.tuples(WEIGHTS, WEIGHTS, WEIGHTS),
)
def test_each_memory_is_ranked_once_keeps_its_cosine_and_the_limit_holds(
    found: Rankings, limit: int, weights: tuple[float, float, float]
) -> None:
    keyword_weight, date_weight, session_weight = weights
    named = [TimeRange(BASE, BASE + timedelta(hours=2))]

    fused = fuse(
        found,
        keyword_weight,
        limit=limit,
        dates_named=named,
        date_weight=date_weight,
        session_weight=session_weight,
    )

    assert len(fused) == min(limit, len(found.found))
    assert len({c.id for c in fused}) == len(fused)
    inputs = {c.id: c for c in found.found}
    assert all(c == inputs[c.id] for c in fused)  # the candidate itself, its cosine untouched


@settings(max_examples=200, deadline=None)
@given(
    found=rankings(st.floats(-1, 1), st.floats(0.001, 50)),
    keyword_weight=st.floats(0, 1),
    limit=st.integers(1, 10),
)
def test_the_ranking_follows_the_fused_score_and_keeps_the_best(
    found: Rankings, keyword_weight: float, limit: int
) -> None:
    score = the_spec(found, keyword_weight)

    fused = [score[c.id] for c in fuse(found, keyword_weight, limit=limit)]
    left_out = sorted(score.values(), reverse=True)[len(fused) :]

    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(fused))
    assert all(fused[-1] >= other - 1e-12 for other in left_out)


@settings(max_examples=200, deadline=None)
@given(
    found=rankings(st.floats(-1, 1), st.floats(0.001, 50)),
    keyword_weight=st.floats(0, 1),
    limit=st.integers(1, 10),
    shuffle=st.randoms(use_true_random=False),
)
def test_the_order_the_searches_answer_in_changes_no_score_of_the_ranking(
    found: Rankings, keyword_weight: float, limit: int, shuffle: random.Random
) -> None:
    pairs = list(zip(found.keyword, found.scores, strict=True))
    dense = shuffle.sample(found.dense, len(found.dense))
    pairs = shuffle.sample(pairs, len(pairs))
    shuffled = Rankings(dense, [c for c, _ in pairs], [s for _, s in pairs])
    score = the_spec(found, keyword_weight)

    before = [score[c.id] for c in fuse(found, keyword_weight, limit=limit)]
    after = [score[c.id] for c in fuse(shuffled, keyword_weight, limit=limit)]

    assert after == pytest.approx(before, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(found=rankings(st.floats(-1, 1), st.floats(0.001, 50)), keyword_weight=st.floats(0, 1))
def test_words_never_bridge_a_cosine_gap_wider_than_the_keyword_weight(
    found: Rankings, keyword_weight: float
) -> None:
    fused = fuse(found, keyword_weight)

    for higher, lower in itertools.combinations(fused, 2):
        assert lower.similarity <= higher.similarity + keyword_weight + 1e-12


@settings(max_examples=200, deadline=None)
@given(found=rankings(st.floats(-1, 1), st.floats(0.001, 50)), keyword_weight=st.floats(0.01, 1))
def test_a_memory_no_word_matched_never_outranks_a_matched_one_as_close(
    found: Rankings, keyword_weight: float
) -> None:
    matched = {c.id for c in found.keyword}
    rank = {c.id: n for n, c in enumerate(fuse(found, keyword_weight))}

    for word in found.keyword:
        for other in found.dense:
            if other.id not in matched and other.similarity <= word.similarity:
                assert rank[word.id] < rank[other.id]


@settings(max_examples=200, deadline=None)
@given(found=rankings(), limit=st.integers(1, 10))
def test_without_words_dates_or_sessions_the_vector_order_stands(
    found: Rankings, limit: int
) -> None:
    vector_only = Rankings(found.dense, [], [])

    assert fuse(vector_only, 0.35, limit=limit) == found.dense[:limit]


@settings(max_examples=300, deadline=None)
@given(
    found=rankings(),
    pick=st.integers(0, 7),
    raise_by=st.integers(1, 64).map(lambda k: k / 64),
    weights=st.tuples(WEIGHTS, WEIGHTS, WEIGHTS),
    named_from=st.integers(0, 300),
)
def test_a_higher_cosine_never_lowers_a_memory_in_the_ranking(
    found: Rankings,
    pick: int,
    raise_by: float,
    weights: tuple[float, float, float],
    named_from: int,
) -> None:
    keyword_weight, date_weight, session_weight = weights
    chosen = found.found[pick % len(found.found)]
    start = BASE + timedelta(minutes=named_from)
    options: dict[str, Any] = {
        "dates_named": [TimeRange(start, start + timedelta(hours=1))],
        "date_weight": date_weight,
        "session_weight": session_weight,
    }

    def rank(rankings: Rankings) -> int:
        order = [c.id for c in fuse(rankings, keyword_weight, **options)]
        return order.index(chosen.id)

    raised = found.with_cosine(chosen, chosen.similarity + raise_by)

    assert rank(raised) <= rank(found)


def _sessions(found: list[Candidate]) -> list[list[uuid.UUID]]:
    """Runs of memories told less than SESSION_GAP apart, as the fusion groups them."""
    runs: list[list[Candidate]] = []
    for c in sorted(found, key=lambda c: c.created_at):
        if runs and c.created_at - runs[-1][-1].created_at < SESSION_GAP:
            runs[-1].append(c)
        else:
            runs.append([c])
    return [[c.id for c in run] for run in runs]


@settings(max_examples=200, deadline=None)
@given(found=rankings(), keyword_weight=WEIGHTS, session_weight=st.integers(1, 7))
def test_a_session_lifts_its_members_without_reordering_them(
    found: Rankings, keyword_weight: float, session_weight: int
) -> None:
    alone = [c.id for c in fuse(found, keyword_weight)]
    lifted = [c.id for c in fuse(found, keyword_weight, session_weight=session_weight / 8)]

    for session in _sessions(found.found):
        assert [m for m in alone if m in session] == [m for m in lifted if m in session]
