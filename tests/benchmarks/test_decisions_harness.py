"""The decision-quality harness (benchmarks/decisions): its case set is sound, its judging
fails the answers a careless model gives, and its plumbing works end to end. The last check
is a sanity check, not a score: a real service process on a fresh embedded Postgres, with the
oracle LLM answering the labels, must report every case as passed, and a deliberately wrong
answer as failed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchmarks.decisions.cases import (
    CATEGORIES,
    CaseFileError,
    check_case_set,
    load_cases,
    parse_cases,
    select_cases,
)
from benchmarks.decisions.judging import Decision, judge
from benchmarks.decisions.oracle import run_with_oracle
from benchmarks.decisions.runner import summarise
from service.adapters.embedder import Embedder

# One case per path through the service: an UPDATE, a DELETE, a duplicate the service answers
# without the LLM, a NONE from the LLM, several facts at once, a fact beside an injection, an
# assistant's claim that teaches nothing, and an accepted alternative's case.
ORACLE_CASES = (
    "update-01,retraction-01,exact-duplicate-02,exact-duplicate-01,several-facts-03,"
    "injection-03,assistant-01,paraphrase-09"
)
WRONGLY_ANSWERED = "other-people-01"


def test_the_case_set_is_large_balanced_and_labelled_consistently() -> None:
    cases = load_cases()  # refuses a case whose labelled decisions do not give its 'after'

    categories = Counter(case.category for case in cases)
    assert len(cases) >= 80
    assert set(categories) == set(CATEGORIES)
    assert min(categories.values()) >= 8, categories
    assert len({case.id for case in cases}) == len(cases)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"category": "gossip"}, "category 'gossip' is not one of"),
        ({"decisions": [{"UPDATE city": "The user lives in Rome"}]}, "no memory 'city' before"),
        ({"after": [{"same": "job"}]}, "which 'after' does not describe"),
        ({"decisions": ["ADD"]}, "the labelled answer gives each fact"),
        ({"after": [{"has": [2026]}]}, "not 2026"),  # YAML's unquoted number
        ({"conversation": [{"assistant": "You live in Rome."}]}, "give one"),
    ],
)
def test_the_loader_refuses_a_case_it_cannot_trust(change: dict[str, Any], problem: str) -> None:
    fields = {
        "id": "broken-01",
        "category": "new-fact",
        "before": {"job": "The user works as a baker"},
        "conversation": [{"user": "I live in Rome."}],
        "decisions": [{"ADD": "The user lives in Rome"}],
        "after": [{"same": "job"}, {"has": ["Rome"]}],
    }
    parse_cases([fields], "sound.yaml")

    with pytest.raises(CaseFileError, match=problem):
        parse_cases([fields | change], "broken.yaml")


def test_the_loader_refuses_a_reused_id() -> None:
    [case] = select_cases(load_cases(), "update-01", None)

    with pytest.raises(CaseFileError, match="the id is used twice"):
        check_case_set([case, case])


def test_judging_fails_the_answers_a_careless_model_gives() -> None:
    [case] = select_cases(load_cases(), "update-01", None)  # Berlin -> Lisbon, job unchanged
    job, city = case.before["job"], case.before["city"]

    def verdict(events: list[Decision], memories: list[str]) -> bool:
        return judge(case.outcomes, case.before, events, memories).passed

    moved = "The user relocated to Lisbon in March 2026"
    assert verdict([Decision("UPDATE", "city")], [job, moved])  # paraphrased, still right
    assert not verdict([Decision("ADD", None)], [job, city, moved])  # two cities now
    assert not verdict([Decision("DELETE", "city"), Decision("ADD", None)], [job, moved])
    assert not verdict([Decision("UPDATE", "city")], [job, "The user lives in Porto"])
    assert not verdict([], [job, city])


def test_the_oracle_passes_every_case_and_a_wrong_answer_fails(
    embedder: Embedder, model_cache_dir: Path
) -> None:
    # The embedder fixture has exported the model into the session's cache: the service
    # process loads that export instead of making its own.
    cases = select_cases(load_cases(), f"{ORACLE_CASES},{WRONGLY_ANSWERED}", None)

    oracle_run = run_with_oracle(
        cases,
        wrong={WRONGLY_ANSWERED},
        service_env={"MEMORY_MODEL_CACHE_DIR": str(model_cache_dir)},
    )

    verdicts = {run.case: run for run in oracle_run.runs}
    assert oracle_run.problems == []
    failed = {case_id: run.reason for case_id, run in verdicts.items() if not run.passed}
    assert failed.keys() == {WRONGLY_ANSWERED}, failed
    assert "submarine" in failed[WRONGLY_ANSWERED]
    assert all(run.exact for run in verdicts.values() if run.passed)
    # The duplicate the service recognises itself costs no LLM call, and every call the LLM
    # received is one the service reported.
    assert verdicts["exact-duplicate-02"].llm_calls == 0
    assert sum(run.llm_calls for run in oracle_run.runs) == oracle_run.llm_calls
    summary = summarise(oracle_run.runs)
    assert summary["overall"]["passed"] == len(cases) - 1
    assert summary["adds_without_llm_call"] == 1
    assert summary["prompt_tokens_per_add"] > 0
