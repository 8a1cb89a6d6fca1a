"""Semantic search with scope, limit, threshold and the filter language, over HTTP."""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, add_text

FACTS = [
    ("Alice is allergic to peanuts", {"category": "health", "priority": 3, "tags": ["food"]}),
    ("Alice's favourite band is Radiohead", {"category": "music", "priority": 1, "tags": []}),
    (
        "Alice works as a nurse in Lisbon",
        {"category": "work", "priority": 2, "note": "night shift"},
    ),
    ("Alice runs every morning", {"category": "health", "priority": 2, "tags": ["sport"]}),
]


@pytest.fixture
def alice(client: httpx.Client) -> dict[str, str]:
    """Alice's memories (by text -> id), plus one of Bob's that must never show up."""
    ids = {
        text: add_text(client, text, user_id="alice", metadata=meta)["id"] for text, meta in FACTS
    }
    add_text(client, "Bob is allergic to peanuts", user_id="bob", metadata={"category": "health"})
    return ids


def search(client: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    body.setdefault("user_id", "alice")
    response = client.post("/v1/search", json=body)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def texts(results: list[dict[str, Any]]) -> list[str]:
    return [r["memory"]["text"] for r in results]


def test_best_match_first_within_scope_with_scores(
    client: httpx.Client, alice: dict[str, str]
) -> None:
    results = search(client, query="Which food should Alice avoid?")

    assert texts(results)[0] == "Alice is allergic to peanuts"
    assert all(r["memory"]["user_id"] == "alice" for r in results)
    assert len(results) == 4
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert -1 <= scores[-1] <= scores[0] <= 1


def test_limit_and_threshold(client: httpx.Client, alice: dict[str, str]) -> None:
    assert len(search(client, query="Alice", limit=2)) == 2
    strict = search(client, query="peanut allergy", threshold=0.5)
    assert texts(strict) == ["Alice is allergic to peanuts"]
    assert all(r["score"] >= 0.5 for r in strict)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category": "health"}, {"Alice is allergic to peanuts", "Alice runs every morning"}),
        (
            {"category": {"ne": "health"}},
            {"Alice's favourite band is Radiohead", "Alice works as a nurse in Lisbon"},
        ),
        ({"priority": {"gt": 2}}, {"Alice is allergic to peanuts"}),
        (
            {"priority": {"gte": 2}},
            {
                "Alice is allergic to peanuts",
                "Alice works as a nurse in Lisbon",
                "Alice runs every morning",
            },
        ),
        ({"priority": {"lt": 2}}, {"Alice's favourite band is Radiohead"}),
        ({"priority": {"lte": 1}}, {"Alice's favourite band is Radiohead"}),
        (
            {"category": {"in": ["music", "work"]}},
            {"Alice's favourite band is Radiohead", "Alice works as a nurse in Lisbon"},
        ),
        (
            {"category": {"nin": ["music", "work"]}},
            {"Alice is allergic to peanuts", "Alice runs every morning"},
        ),
        ({"tags": {"contains": "sport"}}, {"Alice runs every morning"}),
        ({"note": {"contains": "night"}}, {"Alice works as a nurse in Lisbon"}),
        (
            {"AND": [{"category": "health"}, {"priority": {"gte": 3}}]},
            {"Alice is allergic to peanuts"},
        ),
        (
            {"OR": [{"category": "music"}, {"priority": 3}]},
            {"Alice's favourite band is Radiohead", "Alice is allergic to peanuts"},
        ),
        (
            {"NOT": {"category": "health"}},
            {"Alice's favourite band is Radiohead", "Alice works as a nurse in Lisbon"},
        ),
        ({"category": "health", "priority": {"lt": 3}}, {"Alice runs every morning"}),
        ({"metadata.category": "work"}, {"Alice works as a nurse in Lisbon"}),
        ({"priority": {"gt": "2"}}, set()),  # a string never compares with a number
        ({"missing_key": {"eq": 1}}, set()),
    ],
)
def test_filter_language(
    client: httpx.Client, alice: dict[str, str], filters: dict[str, Any], expected: set[str]
) -> None:
    results = search(client, query="Alice", filters=filters)

    assert set(texts(results)) == expected
    listed = client.get(
        "/v1/memories", params={"user_id": "alice", "filters": __import__("json").dumps(filters)}
    ).json()["memories"]
    assert {m["text"] for m in listed} == expected


def test_builtin_field_filters(client: httpx.Client, alice: dict[str, str]) -> None:
    add_text(client, "Alice's run today was 10 km", user_id="alice", run_id="session-2")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    assert texts(search(client, query="run", filters={"run_id": "session-2"})) == [
        "Alice's run today was 10 km"
    ]
    assert search(client, query="Alice", filters={"created_at": {"gt": future}}) == []
    assert len(search(client, query="Alice", filters={"created_at": {"lt": future}})) == 5


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"priority": {"between": [1, 2]}}, "unknown operator"),
        ({"and": [{"a": 1}]}, "upper case"),
        ({"OR": []}, "non-empty list"),
        ({"category": {"in": "health"}}, "list"),
        ({"created_at": {"gt": "yesterday"}}, "ISO 8601"),
        ({"bad key!": 1}, "not a filterable field"),
        ({"priority": {"gt": [1]}}, "number or a string"),
    ],
)
def test_invalid_filters_are_explained(
    client: httpx.Client, alice: dict[str, str], filters: dict[str, Any], message: str
) -> None:
    response = client.post(
        "/v1/search", json={"query": "x", "user_id": "alice", "filters": filters}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]


def test_search_needs_a_scope(client: httpx.Client) -> None:
    response = client.post("/v1/search", json={"query": "anything"})

    assert response.status_code == 422
    assert "scope" in response.json()["detail"]


def test_concurrent_searches_share_embedding_passes(
    client: httpx.Client, alice: dict[str, str], live_server: LiveServer
) -> None:
    before = live_server.embedder.stats.forward_passes
    queries = [f"question number {n} about what Alice likes" for n in range(24)]

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(
            pool.map(
                lambda q: (
                    client.post("/v1/search", json={"query": q, "user_id": "alice"}).status_code
                ),
                queries,
            )
        )

    assert statuses == [200] * 24
    passes = live_server.embedder.stats.forward_passes - before
    assert passes < 24, f"{passes} forward passes for 24 concurrent queries: no micro-batching"


def test_keyword_mode_finds_rare_words_and_hybrid_is_the_default(
    client: httpx.Client, alice: dict[str, str]
) -> None:
    keyword = client.post(
        "/v1/search",
        json={"query": "radiohead concert tickets", "user_id": "alice", "mode": "keyword"},
    ).json()
    hybrid = client.post(
        "/v1/search", json={"query": "radiohead concert tickets", "user_id": "alice"}
    ).json()
    vector = client.post(
        "/v1/search", json={"query": "radiohead", "user_id": "alice", "mode": "vector"}
    ).json()

    assert keyword["mode"] == "keyword"
    assert texts(keyword["results"]) == ["Alice's favourite band is Radiohead"]
    assert hybrid["mode"] == "hybrid"
    assert texts(hybrid["results"])[0] == "Alice's favourite band is Radiohead"
    assert vector["mode"] == "vector" and len(vector["results"]) == 4


def test_keyword_ranking_weighs_rare_words_over_common_ones(client: httpx.Client) -> None:
    # "Caroline" is in every memory of the scope, "saxophone" in one: a word every memory
    # shares says nothing about which one is meant, however often a memory repeats it.
    common = [
        "Caroline told Caroline's sister that Caroline would visit",
        "Caroline went hiking with her friends",
        "Caroline is learning to paint",
        "Caroline adopted a dog",
    ]
    for text in [*common, "Caroline bought a saxophone"]:
        add_text(client, text, user_id="caroline")

    results = search(client, user_id="caroline", query="Caroline saxophone", mode="keyword")

    assert texts(results)[0] == "Caroline bought a saxophone"
    assert len(results) == 5  # each memory matches a word of the query


def test_a_question_naming_a_date_prefers_what_was_told_that_day(client: httpx.Client) -> None:
    def told(text: str, when: str) -> str:
        return str(add_text(client, text, user_id="ines", created_at=when)["id"])

    other_day = told("Ines had dinner with her friends", "2023-06-10T20:00:00Z")
    that_day = told("Ines had dinner at a seafood place with her brother", "2023-05-03T21:30:00Z")
    that_month = told("Ines went to a dinner party at her neighbour's", "2023-07-02T19:00:00Z")
    question = "Who did Ines have dinner with"

    def ranked(query: str, mode: str = "hybrid") -> list[str]:
        return [
            hit["memory"]["id"] for hit in search(client, query=query, user_id="ines", mode=mode)
        ]

    assert ranked(f"{question}?")[0] == other_day  # no date named: the closest text
    assert ranked(f"{question} on May 3, 2023?", mode="vector")[0] == other_day
    assert ranked(f"{question} on May 3, 2023?")[0] == that_day
    assert ranked(f"{question} on 3 May 2023?")[0] == that_day
    assert ranked(f"{question} in July 2023?")[0] == that_month
    assert ranked(f"{question} on May 3, 2021?")[0] == other_day  # a day nothing was told
