"""What an add asks of the LLM, over the native API: instructions, includes, excludes and
categories ride in the one LLM call as data; the categories the model picks are checked
against those offered, stored, returned, filtered on, and kept through an export."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.pipeline_support import say
from tests.conftest import LiveServer, add_text
from tests.llm_server import Reply, ScriptedLLM

CATEGORIES = [
    {"name": "health", "description": "Allergies, illnesses, medication"},
    {"name": "food", "description": "What the user eats or avoids"},
    {"name": "work"},
]


def _decide(*items: tuple[str, str, int | None, list[str]]) -> Reply:
    return Reply(
        answer={
            "decisions": [
                {"fact": fact, "event": event, "memory": memory, "categories": categories}
                for fact, event, memory, categories in items
            ]
        }
    )


def _add(client: httpx.Client, text: str, **options: Any) -> dict[str, Any]:
    response = client.post("/v1/memories", json={"text": text, "user_id": "alice", **options})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_options_reach_the_prompt_and_categories_are_checked_stored_and_filtered(
    llm_client: httpx.Client, llm: ScriptedLLM
) -> None:
    llm.script(
        _decide(
            ("Alice is allergic to peanuts", "ADD", None, ["health", "FOOD", "allergy"]),
            ("Alice works as a nurse", "ADD", None, ["work"]),
        )
    )

    body = _add(
        llm_client,
        "I'm a nurse, and allergic to peanuts.",
        custom_instructions="Facts about health and work only.",
        includes="allergies",
        excludes="employer names",
        custom_categories=CATEGORIES,
    )

    assert [(r["memory"]["text"], r["memory"]["categories"]) for r in body["results"]] == [
        ("Alice is allergic to peanuts", ["health", "food"]),
        ("Alice works as a nurse", ["work"]),
    ]
    [dropped] = body["rejected"]
    assert (dropped["fact"], dropped["event"]) == ("Alice is allergic to peanuts", "ADD")
    assert "category 'allergy' dropped" in dropped["reason"]
    assert body["usage"]["llm_calls"] == 1
    assert body["prompt_version"] == "memory-update/2"
    prompt = llm.prompt_of(0)
    assert prompt["preferences"] == {
        "instructions": "Facts about health and work only.",
        "include": "allergies",
        "exclude": "employer names",
    }
    assert prompt["categories"][2] == {"name": "work", "description": ""}
    assert "employer names" not in llm.requests[0]["messages"][0]["content"]
    health = llm_client.get(
        "/v1/memories",
        params={"user_id": "alice", "filters": json.dumps({"categories": {"contains": "health"}})},
    ).json()["memories"]
    assert [m["text"] for m in health] == ["Alice is allergic to peanuts"]
    hits = llm_client.post(
        "/v1/search",
        json={
            "query": "job",
            "user_id": "alice",
            "filters": {"NOT": {"categories": {"in": ["health", "food"]}}},
        },
    ).json()["results"]
    assert [hit["memory"]["text"] for hit in hits] == ["Alice works as a nurse"]


def test_without_options_the_prompt_and_the_schema_are_as_before(
    llm_client: httpx.Client, llm: ScriptedLLM
) -> None:
    llm.script(_decide(("Alice likes jazz", "ADD", None, ["music"])))

    body = say(llm_client, "I like jazz").json()

    prompt = llm.prompt_of(0)
    assert set(prompt) == {"today", "existing_memories", "conversation"}
    schema = llm.requests[0]["response_format"]["json_schema"]["schema"]
    assert "categories" not in schema["properties"]["decisions"]["items"]["properties"]
    assert body["results"][0]["memory"]["categories"] == []
    assert "this add gave no categories" in body["rejected"][0]["reason"]


def test_an_update_relabels_a_memory_only_when_categories_were_offered(
    llm_client: httpx.Client, llm: ScriptedLLM
) -> None:
    llm.script(_decide(("Alice lives in Berlin", "ADD", None, ["home"])))
    [added] = _add(
        llm_client, "I live in Berlin", custom_categories=[{"name": "home"}, {"name": "city"}]
    )["results"]
    memory_id = added["memory"]["id"]
    llm.script(
        _decide(("Alice lives in Lisbon", "UPDATE", 0, [])),
        _decide(("Alice lives in Lisbon, Portugal", "UPDATE", 0, ["city"])),
    )

    kept = say(llm_client, "I moved to Lisbon").json()["results"][0]["memory"]
    relabelled = _add(llm_client, "Lisbon, in Portugal", custom_categories=[{"name": "city"}])[
        "results"
    ][0]["memory"]

    assert (kept["id"], kept["categories"]) == (memory_id, ["home"])
    assert (relabelled["id"], relabelled["categories"]) == (memory_id, ["city"])
    assert llm_client.get(f"/v1/memories/{memory_id}").json()["categories"] == ["city"]


@pytest.mark.parametrize(
    ("options", "status", "named"),
    [
        ({"custom_instructions": 5}, 400, "custom_instructions"),
        ({"custom_categories": {"name": "x"}}, 400, "custom_categories"),
        ({"custom_categories": [{"name": "x", "colour": "red"}]}, 400, "colour"),
        ({"custom_categories": [{"description": "no name"}]}, 400, "name"),
        ({"custom_instructions": "x" * 2001}, 422, "the limit is 2000"),
        ({"excludes": "x" * 501}, 422, "excludes is 501 characters"),
        ({"includes": " \u200b"}, 422, "includes must have a visible character"),
        ({"custom_instructions": "a\u0000b"}, 422, "NUL"),
        ({"custom_categories": [{"name": "c" * 65}]}, 422, "longer than 64"),
        ({"custom_categories": [{"name": "x", "description": "d" * 257}]}, 422, "256"),
        ({"custom_categories": [{"name": ""}]}, 422, "must be visible"),
        ({"custom_categories": [{"name": "Food"}, {"name": "food"}]}, 422, "twice"),
        ({"custom_categories": [{"name": f"c{n}"} for n in range(31)]}, 422, "limit is 30"),
    ],
)
def test_bad_options_answer_4xx_before_any_llm_call(
    llm_client: httpx.Client, llm: ScriptedLLM, options: dict[str, Any], status: int, named: str
) -> None:
    response = llm_client.post(
        "/v1/memories", json={"text": "I like tea", "user_id": "bob", **options}
    )

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert named in response.text
    assert llm.requests == []


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"categories": {"gt": "a"}}, "'categories' supports contains"),
        ({"categories": {"contains": 3}}, "category names"),
        ({"categories": {"in": ["a", 1]}}, "category names"),
        ({"categories": ["a", "b"]}, "category names"),
    ],
)
def test_a_bad_categories_filter_is_a_422(
    client: httpx.Client, filters: dict[str, Any], named: str
) -> None:
    response = client.post("/v1/search", json={"query": "x", "user_id": "a", "filters": filters})

    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]


def test_without_an_llm_options_are_checked_and_memories_have_no_categories(
    client: httpx.Client,
) -> None:
    refused = client.post(
        "/v1/memories",
        json={"text": "I like tea", "user_id": "c", "custom_categories": [{"name": " x"}]},
    )
    body = _add(client, "I like tea", user_id="c", custom_categories=CATEGORIES, infer=False)

    assert refused.status_code == 422
    assert body["results"][0]["memory"]["categories"] == []


def test_categories_travel_with_an_export(
    llm_server: LiveServer, llm_client: httpx.Client, llm: ScriptedLLM
) -> None:
    llm.script(_decide(("Alice is a nurse", "ADD", None, ["work"])))
    _add(llm_client, "I am a nurse", user_id="exported", custom_categories=CATEGORIES)
    add_text(llm_client, "Alice reads novels", user_id="exported")
    lines = llm_client.get("/v1/memories/export", params={"user_id": "exported"}).text
    records = [json.loads(line) for line in lines.splitlines()]
    # Only a memory with categories carries the field: older releases read the others.
    assert [record.get("categories") for record in records[1:]] == [["work"], None]
    llm_client.delete("/v1/memories", params={"user_id": "exported"})

    imported = llm_client.post(
        "/v1/memories/import",
        content=lines.encode(),
        headers={"content-type": "application/x-ndjson"},
    )

    assert imported.json()["imported"] == 2, imported.text
    listed = llm_client.get("/v1/memories", params={"user_id": "exported"}).json()["memories"]
    assert {m["text"]: m["categories"] for m in listed} == {
        "Alice is a nurse": ["work"],
        "Alice reads novels": [],
    }
    records[1]["categories"] = ["ok", "x" * 65]
    bad = llm_client.post(
        "/v1/memories/import",
        content="\n".join(json.dumps(record) for record in records).encode(),
        headers={"content-type": "application/x-ndjson"},
    )
    assert bad.status_code == 422
    assert "line 2" in bad.json()["detail"] and "categories[1]" in bad.json()["detail"]


def test_a_thousand_invented_categories_make_one_short_rejection(
    llm_client: httpx.Client, llm: ScriptedLLM
) -> None:
    invented = [f"made-up-{n % 400}" for n in range(1000)]  # 400 distinct, each repeated
    llm.script(_decide(("Alice is allergic to peanuts", "ADD", None, ["health", *invented])))

    response = llm_client.post(
        "/v1/memories",
        json={
            "messages": [{"role": "user", "content": "I'm allergic to peanuts"}],
            "user_id": "invented",
            "custom_categories": CATEGORIES,
        },
    )

    assert response.status_code == 201, response.text[:500]
    body = response.json()
    assert body["results"][0]["memory"]["categories"] == ["health"]
    [dropped] = body["rejected"]
    assert "'made-up-0', 'made-up-1'" in dropped["reason"] and "and 395 more" in dropped["reason"]
    assert len(response.content) < 5_000
