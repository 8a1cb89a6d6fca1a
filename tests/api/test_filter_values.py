"""Filters comparing with arrays, objects and values Postgres cannot hold: each either has a
clear meaning or answers 422, in both dialects (they used to answer 500)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, create_api_key

SEEDS = {
    "empty": {"tags": []},
    "a": {"tags": ["a"]},
    "ab": {"tags": ["a", "b"]},
    "nested": {"category": [1, [2]]},
    "one": {"category": 1},
    "x": {"category": {"x": 1}},
    "xy": {"category": {"x": 1, "y": 2}},
    "bare": {},
}
ALL = set(SEEDS)


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """One tenant holding one memory of user "fv" per seed; the name of each memory's id."""
    key = create_api_key(live_server.dsn, "filter-values")
    with httpx.Client(
        base_url=live_server.base_url, headers={"X-API-Key": key}, timeout=30
    ) as client:
        items = [
            {"text": f"Memory {name}", "user_id": "fv", "metadata": meta}
            for name, meta in SEEDS.items()
        ]
        response = client.post("/v1/memories/batch", json={"items": items})
        assert response.status_code == 201, response.text
        names = {
            r["memory"]["id"]: r["memory"]["text"].removeprefix("Memory ")
            for r in response.json()["results"]
        }
        yield client, names


def _native(client: httpx.Client, names: dict[str, str], filters: Any) -> set[str]:
    listed = client.get("/v1/memories", params={"user_id": "fv", "filters": json.dumps(filters)})
    assert listed.status_code == 200, listed.text
    found = client.post(
        "/v1/search", json={"query": "memory", "user_id": "fv", "limit": 100, "filters": filters}
    )
    assert found.status_code == 200, found.text
    from_list = {names[m["id"]] for m in listed.json()["memories"]}
    assert {names[r["memory"]["id"]] for r in found.json()["results"]} == from_list
    return from_list


def _mem0(client: httpx.Client, names: dict[str, str], **body: Any) -> set[str]:
    body["filters"] = {
        "AND": [{"user_id": "fv"}, *([body["filters"]] if "filters" in body else [])]
    }
    found = client.post("/v3/memories/search/", json={"query": "memory", "top_k": 100, **body})
    assert found.status_code == 200, found.text
    ids = {names[m["id"]] for m in found.json()["results"]}
    if "metadata" not in body:  # get_all takes no metadata conditions
        listed = client.post("/v3/memories/", json=body)
        assert listed.status_code == 200, listed.text
        assert {names[m["id"]] for m in listed.json()["results"]} == ids
    return ids


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"tags": []}, {"empty"}),
        ({"tags": ["a"]}, {"a"}),  # the whole array: not every array holding "a"
        ({"tags": {"eq": ["a", "b"]}}, {"ab"}),
        ({"tags": {"ne": []}}, ALL - {"empty"}),
        ({"metadata.tags": {"ne": ["a"]}}, ALL - {"a"}),
        ({"tags": {"nin": ["a"]}}, ALL - {"a", "ab"}),
        ({"category": [1, [2]]}, {"nested"}),
        ({"category": {"ne": [1, [2]]}}, ALL - {"nested"}),
        ({"category": {"eq": {"x": 1}}}, {"x"}),  # the whole object, not one holding it
        ({"category": {"ne": {"x": 1}}}, ALL - {"x"}),
        ({"category": 1}, {"one"}),
        ({"NOT": {"tags": []}}, ALL - {"empty"}),
        ({"OR": [{"tags": []}, {"category": [1, [2]]}]}, {"empty", "nested"}),
    ],
)
def test_equality_with_an_array_or_object_compares_the_whole_value_in_both_dialects(
    seeded: tuple[httpx.Client, dict[str, str]], filters: dict[str, Any], expected: set[str]
) -> None:
    client, names = seeded

    assert _native(client, names, filters) == expected
    assert _mem0(client, names, filters=filters) == expected


@pytest.mark.parametrize(
    ("mem0_filters", "expected"),
    [
        ({"metadata": {"tags": []}}, {"empty"}),
        ({"metadata": {"tags": ["a"]}}, {"a"}),
        ({"metadata": {"tags": {"ne": ["a"]}}}, ALL - {"a"}),
        ({"metadata": {"category": [1, [2]]}}, {"nested"}),
        # in / nin and comparisons look at an array's elements: [1, [2]] holds 1.
        ({"metadata": {"category": {"nin": [1]}}}, ALL - {"one", "nested"}),
    ],
)
def test_mem0_metadata_forms_with_lists(
    seeded: tuple[httpx.Client, dict[str, str]], mem0_filters: dict[str, Any], expected: set[str]
) -> None:
    client, names = seeded
    metadata = mem0_filters["metadata"]

    assert _mem0(client, names, filters=mem0_filters) == expected
    if all(not isinstance(value, dict) for value in metadata.values()):
        assert _mem0(client, names, metadata=metadata) == expected  # search's own field


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"user_id": ["fv"]}, "compares with strings"),
        ({"user_id": []}, "compares with strings"),
        ({"run_id": {"ne": ["r1"]}}, "compares with strings"),
        ({"agent_id": {"contains": ["a"]}}, "string, number or boolean"),
        ({"tags": {"nin": [["a"]]}}, "strings, numbers or booleans"),
        ({"tags": {"in": [[]]}}, "strings, numbers or booleans"),
        ({"tags": {"nin": []}}, "list of 1 to"),
        ({"category": {"in": [1, [2]]}}, "strings, numbers or booleans"),
        ({"tags": {"contains": ["a"]}}, "string, number or boolean"),
        ({"tags": {"gt": []}}, "number or a string"),
        ({"tags": "a\u0000b"}, "NUL"),
        ({"tags": {"eq": {"k\u0000": 1}}}, "NUL"),
        ({"user_id": "f\u0000v"}, "NUL"),
        ({"tags": {"eq": [[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}}, "nests deeper"),
    ],
)
def test_filters_postgres_cannot_compare_answer_422_naming_the_problem(
    seeded: tuple[httpx.Client, dict[str, str]], filters: dict[str, Any], message: str
) -> None:
    client, _ = seeded
    answers = [
        client.post("/v1/search", json={"query": "x", "user_id": "fv", "filters": filters}),
        client.get("/v1/memories", params={"user_id": "fv", "filters": json.dumps(filters)}),
        client.post("/v3/memories/search/", json={"query": "x", "filters": filters}),
        client.post("/v3/memories/", json={"filters": {"AND": [{"user_id": "fv"}, filters]}}),
    ]

    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert message in answer.json()["detail"], answer.json()["detail"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"tags": NaN}', "finite numbers"),
        ('{"tags": {"gt": Infinity}}', "finite numbers"),
        ('{"tags": {"in": [-Infinity]}}', "finite numbers"),
        ('{"tags": ' + "1" * 5000 + "}", "too long"),
    ],
)
def test_the_filters_query_parameter_refuses_numbers_json_has_not(
    seeded: tuple[httpx.Client, dict[str, str]], raw: str, message: str
) -> None:
    client, _ = seeded

    answer = client.get("/v1/memories", params={"user_id": "fv", "filters": raw})

    assert answer.status_code == 422, answer.text
    assert message in answer.json()["detail"]
