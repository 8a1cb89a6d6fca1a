"""A search ranks a small scope exactly (hybrid: both rankings in one statement) and a large
one through the HNSW index; over HTTP, both plans return the same best memories of the
scope, honour filters and never return another tenant's or user's memories."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, add_text, start_server

FACTS = [
    ("Alice is allergic to peanuts", "health"),
    ("Alice runs a marathon every spring", "health"),
    ("Alice plays the cello in an orchestra", "hobby"),
    ("Alice grows tomatoes in her garden", "hobby"),
    ("Alice works night shifts as a nurse in Lisbon", "work"),
    ("Alice drinks her coffee black", "food"),
]
QUESTIONS = [
    ("What should Alice not eat?", "Alice is allergic to peanuts"),
    ("Which instrument does Alice play?", "Alice plays the cello in an orchestra"),
    ("Where does Alice work?", "Alice works night shifts as a nurse in Lisbon"),
]


@pytest.fixture(scope="module")
def index_server(live_server: LiveServer) -> Iterator[LiveServer]:
    """The same app over the same database, ranking every scope through the HNSW index."""
    settings = replace(live_server.settings, exact_search_max_rows=0)
    server = start_server(settings, live_server.dsn, live_server.embedder)
    yield server
    server.stop()


def seed(http: httpx.Client, *, prefix: str = "") -> None:
    for text, category in FACTS:
        add_text(http, prefix + text, user_id="alice", metadata={"category": category})
        add_text(http, prefix + text.replace("Alice", "Bob"), user_id="bob")


def search(http: httpx.Client, base_url: str, **body: Any) -> dict[str, Any]:
    response = http.post(f"{base_url}/v1/search", json={"user_id": "alice", **body})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_exact_and_index_plans_find_the_same_best_memories(
    client: httpx.Client,
    other_client: httpx.Client,
    live_server: LiveServer,
    index_server: LiveServer,
    mode: str,
) -> None:
    seed(client)
    # Another tenant holds the same user ids and near-identical texts.
    seed(other_client, prefix="Tenant two: ")
    for question, expected in QUESTIONS:
        exact = search(client, live_server.base_url, query=question, mode=mode, limit=3)
        indexed = search(client, index_server.base_url, query=question, mode=mode, limit=3)

        assert (exact["strategy"], indexed["strategy"]) == ("exact", "hnsw")
        found = [[r["memory"]["text"] for r in answer["results"]] for answer in (exact, indexed)]
        if mode != "keyword":  # a question may share no word with its answer
            assert found[0][0] == found[1][0] == expected
        assert found[0] == found[1]
        for answer in (exact, indexed):
            assert all(r["memory"]["user_id"] == "alice" for r in answer["results"])
            assert not any(text.startswith("Tenant two") for text in found[0] + found[1])


@pytest.mark.parametrize("server_name", ["live_server", "index_server"])
def test_both_plans_honour_filters(
    client: httpx.Client, request: pytest.FixtureRequest, server_name: str
) -> None:
    seed(client)
    server: LiveServer = request.getfixturevalue(server_name)

    answer = search(
        client, server.base_url, query="What does Alice do?", filters={"category": "hobby"}
    )

    assert {r["memory"]["text"] for r in answer["results"]} == {
        "Alice plays the cello in an orchestra",
        "Alice grows tomatoes in her garden",
    }
