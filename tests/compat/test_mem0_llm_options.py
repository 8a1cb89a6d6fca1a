"""The unmodified Mem0 SDK's LLM options against the live service and the scripted LLM:
project settings (``client.project.get`` / ``update``), ``custom_instructions``,
``includes``, ``excludes`` and ``custom_categories`` on add (all in the one LLM call, as
data), categories stored, returned and filtered on, and ``timestamp`` as the time told."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from mem0 import AsyncMemoryClient, MemoryClient
from mem0.exceptions import MemoryError as Mem0Error

from tests.conftest import LiveServer, create_api_key, run_sql
from tests.llm_server import Reply, ScriptedLLM

PROJECT_CATEGORIES = [
    {"health": "Allergies, illnesses, medication"},
    {"food": "What the user eats or avoids"},
    {"travel": "Trips and places"},
]
INSTRUCTIONS = "Remember health, food and travel facts only; write dates as YYYY-MM-DD."
TOLD_AT = 1_700_000_000  # 2023-11-14T22:13:20Z


def _client(server: LiveServer) -> tuple[MemoryClient, str]:
    name = f"mem0-llm-{uuid.uuid4().hex[:12]}"
    key = create_api_key(server.dsn, name)
    [row] = run_sql(server.dsn, "SELECT id FROM tenants WHERE name = $1", name)
    return MemoryClient(api_key=key, host=server.base_url), str(row["id"])


def _categorised(*items: tuple[str, list[str]]) -> Reply:
    """A reply adding each fact with the categories the model chose."""
    return Reply(
        answer={
            "decisions": [
                {"fact": fact, "event": "ADD", "memory": None, "categories": categories}
                for fact, categories in items
            ]
        }
    )


def _rows(server: LiveServer, tenant_id: str) -> dict[str, dict[str, Any]]:
    rows = run_sql(
        server.dsn,
        "SELECT content, categories, created_at FROM memories WHERE tenant_id = $1::uuid",
        tenant_id,
    )
    return {row["content"]: dict(row) for row in rows}


def test_project_settings_round_trip_through_the_sdk(live_server: LiveServer) -> None:
    client, tenant_id = _client(live_server)
    assert client.project.get()["custom_categories"] == []

    client.project.update(custom_instructions=INSTRUCTIONS, custom_categories=PROJECT_CATEGORIES)

    project = client.project.get(fields=["custom_instructions", "custom_categories"])
    assert project == {"custom_instructions": INSTRUCTIONS, "custom_categories": PROJECT_CATEGORIES}
    # Updating one setting keeps the other; an empty value removes it.
    client.project.update(custom_instructions="")
    assert client.project.get()["custom_instructions"] is None
    assert client.project.get()["custom_categories"] == PROJECT_CATEGORIES
    [row] = run_sql(
        live_server.dsn, "SELECT custom_categories FROM tenants WHERE id = $1::uuid", tenant_id
    )
    assert json.loads(row["custom_categories"])[0] == {
        "name": "health",
        "description": "Allergies, illnesses, medication",
    }

    async def from_the_async_client() -> dict[str, Any]:
        async with AsyncMemoryClient(api_key=client.api_key, host=live_server.base_url) as other:
            await other.project.update(custom_categories=[{"work": "Jobs"}])
            answer: dict[str, Any] = await other.project.get()
            return answer

    assert asyncio.run(from_the_async_client())["custom_categories"] == [{"work": "Jobs"}]


def test_llm_options_reach_the_one_call_and_categories_are_stored_and_filterable(
    llm_server: LiveServer, llm: ScriptedLLM
) -> None:
    client, tenant_id = _client(llm_server)
    client.project.update(custom_instructions=INSTRUCTIONS, custom_categories=PROJECT_CATEGORIES)
    llm.script(
        _categorised(
            ("Dana is allergic to peanuts", ["health", "Food"]),
            ("Dana flies to Oslo on 2023-12-01", ["travel", "astrology"]),
        )
    )

    added = client.add(
        "I'm allergic to peanuts, and I fly to Oslo on December 1st.",
        user_id="dana",
        includes="allergies and trips",
        excludes="airline names",
        timestamp=TOLD_AT,
    )["results"]

    assert [(r["memory"], r["categories"]) for r in added] == [
        ("Dana is allergic to peanuts", ["health", "food"]),
        ("Dana flies to Oslo on 2023-12-01", ["travel"]),
    ]
    [request] = llm.requests
    prompt = llm.prompt_of(0)
    assert prompt["preferences"] == {
        "instructions": INSTRUCTIONS,
        "include": "allergies and trips",
        "exclude": "airline names",
    }
    assert [c["name"] for c in prompt["categories"]] == ["health", "food", "travel"]
    assert prompt["today"] == "2023-11-14"
    # The options are data beside the conversation, never part of the instructions.
    assert "airline names" not in request["messages"][0]["content"]
    decision = request["response_format"]["json_schema"]["schema"]["properties"]["decisions"]
    assert decision["items"]["properties"]["categories"]["items"]["enum"] == [
        "health",
        "food",
        "travel",
    ]
    stored = _rows(llm_server, tenant_id)
    assert stored["Dana flies to Oslo on 2023-12-01"]["categories"] == ["travel"]
    assert {row["created_at"] for row in stored.values()} == {datetime.fromtimestamp(TOLD_AT, UTC)}
    [job] = run_sql(
        llm_server.dsn, "SELECT result FROM ingest_jobs WHERE tenant_id = $1::uuid", tenant_id
    )
    [dropped] = json.loads(job["result"])["rejected"]
    assert "category 'astrology' dropped" in dropped["reason"]
    _categories_filter_lists_and_searches(client, added)


def _categories_filter_lists_and_searches(
    client: MemoryClient, added: list[dict[str, Any]]
) -> None:
    allergy, trip = (result["id"] for result in added)
    health = client.get_all(
        filters={"AND": [{"user_id": "dana"}, {"categories": {"contains": "health"}}]}
    )
    assert [m["id"] for m in health["results"]] == [allergy]
    assert health["results"][0]["categories"] == ["health", "food"]
    travels = client.search(
        "Where am I going?", filters={"user_id": "dana", "categories": {"in": ["travel", "x"]}}
    )["results"]
    assert [hit["id"] for hit in travels] == [trip]
    assert [
        m["id"] for m in client.get_all(filters={"user_id": "dana"}, categories=["food"])["results"]
    ] == [allergy]
    assert client.get(trip)["categories"] == ["travel"]
    told = client.get_all(filters={"AND": [{"user_id": "dana"}, {"timestamp": {"lte": TOLD_AT}}]})
    assert told["count"] == 2


def test_an_adds_own_options_replace_the_projects(llm_server: LiveServer, llm: ScriptedLLM) -> None:
    client, tenant_id = _client(llm_server)
    client.project.update(custom_instructions=INSTRUCTIONS, custom_categories=PROJECT_CATEGORIES)
    llm.script(_categorised(("Erin works as a nurse", ["work", "health"])))

    [result] = client.add(
        "I work night shifts as a nurse.",
        user_id="erin",
        custom_instructions="Only jobs.",
        custom_categories=[{"work": "Jobs and careers"}],
    )["results"]

    prompt = llm.prompt_of(0)
    assert prompt["preferences"] == {"instructions": "Only jobs."}
    assert prompt["categories"] == [{"name": "work", "description": "Jobs and careers"}]
    assert result["categories"] == ["work"]  # "health" was not offered by this add
    assert _rows(llm_server, tenant_id)["Erin works as a nurse"]["categories"] == ["work"]


def test_timestamp_sets_when_a_memory_was_told_without_the_llm(live_server: LiveServer) -> None:
    client, tenant_id = _client(live_server)

    [result] = client.add("I ran my first marathon", user_id="fay", infer=False, timestamp=TOLD_AT)[
        "results"
    ]

    assert client.get(result["id"])["created_at"].startswith("2023-11-14T22:13:20")
    assert _rows(live_server, tenant_id)["I ran my first marathon"]["categories"] == []


@pytest.mark.parametrize(
    ("options", "status", "named"),
    [
        ({"custom_categories": [{"health": 1}]}, 400, "custom_categories"),
        ({"custom_instructions": ["not", "text"]}, 400, "custom_instructions"),
        ({"custom_instructions": "x" * 2001}, 422, "the limit is 2000"),
        ({"includes": "y" * 501}, 422, "includes is 501 characters"),
        ({"custom_categories": [{f"c{n}": ""} for n in range(31)]}, 422, "the limit is 30"),
        ({"custom_categories": [{"Food": ""}, {"food ": ""}]}, 422, "custom_categories[1]"),
        ({"custom_categories": [{"Food": ""}, {"FOOD": ""}]}, 422, "twice"),
        ({"timestamp": 10**13}, 422, "timestamp must lie between"),
        ({"timestamp": 4_102_444_800}, 422, "must not be in the future"),
        ({"timestamp": "yesterday"}, 400, "timestamp"),
        ({"agent_custom_instructions": "x"}, 501, "agent memories"),
    ],
)
def test_bad_llm_options_answer_4xx_naming_them(
    live_server: LiveServer, options: dict[str, Any], status: int, named: str
) -> None:
    client, tenant_id = _client(live_server)

    with pytest.raises(Mem0Error) as refused:
        client.add("I like tea", user_id="gil", **options)

    assert refused.value.error_code == f"HTTP_{status}", refused.value.message
    assert named in refused.value.message
    assert _rows(live_server, tenant_id) == {}


def test_project_settings_this_service_lacks_answer_501_and_bad_ones_422(
    live_server: LiveServer,
) -> None:
    client, _ = _client(live_server)
    with pytest.raises(Mem0Error) as multilingual:
        client.project.update(multilingual=True)
    assert multilingual.value.error_code == "HTTP_501"
    assert "multilingual" in multilingual.value.message
    with pytest.raises(Mem0Error) as too_many:
        client.project.update(custom_categories=[{f"c{n}": ""} for n in range(31)])
    assert too_many.value.error_code == "HTTP_422"
    with pytest.raises(Mem0Error) as deleted:
        client.project.delete()
    assert deleted.value.error_code == "HTTP_501"
    assert client.project.get()["custom_categories"] == []


def test_another_project_is_not_found_and_an_empty_update_is_a_422(
    live_server: LiveServer,
) -> None:
    client, tenant_id = _client(live_server)
    headers = {"Authorization": f"Token {client.api_key}"}
    own = f"/api/v1/orgs/organizations/{tenant_id}/projects/{tenant_id}/"
    other = f"/api/v1/orgs/organizations/{tenant_id}/projects/{uuid.uuid4()}/"
    with httpx.Client(base_url=live_server.base_url, headers=headers) as http:
        missing = http.get(other)
        empty = http.patch(own, json={"org_id": tenant_id, "project_id": tenant_id})
        repeated = http.get(own, params=[("org_id", "a"), ("org_id", "b")])

    assert missing.status_code == 404, missing.text
    assert tenant_id in missing.json()["detail"]
    assert empty.status_code == 422
    assert "give custom_instructions and/or custom_categories" in empty.json()["detail"]
    assert repeated.status_code == 400  # only fields may repeat
