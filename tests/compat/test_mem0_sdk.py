"""The unmodified official Mem0 SDK (mem0ai 2.x), sync and async, against the live service.

Each scenario calls every supported SDK method and checks what it returns and what the
database holds afterwards.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mem0 import AsyncMemoryClient, MemoryClient
from mem0.exceptions import MemoryError as Mem0Error
from mem0.exceptions import MemoryNotFoundError

from tests.conftest import LiveServer, create_api_key, run_sql
from tests.llm_server import ScriptedLLM, decisions


def _tenant(server: LiveServer) -> tuple[str, str]:
    """A fresh tenant: (its API key, its id)."""
    name = f"mem0-{uuid.uuid4().hex[:12]}"
    key = create_api_key(server.dsn, name)
    [row] = run_sql(server.dsn, "SELECT id FROM tenants WHERE name = $1", name)
    return key, str(row["id"])


def _stored(server: LiveServer, tenant_id: str) -> dict[str, dict[str, Any]]:
    """Every memory of the tenant, by id."""
    rows = run_sql(
        server.dsn,
        "SELECT id, content, user_id, agent_id, run_id, metadata FROM memories "
        "WHERE tenant_id = $1::uuid",
        tenant_id,
    )
    return {str(row["id"]): {**dict(row), "metadata": json.loads(row["metadata"])} for row in rows}


def _add(client: MemoryClient, messages: Any, **options: Any) -> dict[str, Any]:
    results: list[dict[str, Any]] = client.add(messages, **options)["results"]
    [result] = results
    assert result["event"] == "ADD", result
    return result


def test_every_sync_client_method_works_against_the_service(live_server: LiveServer) -> None:
    """One tenant's life through the SDK, each step checked against the database."""
    key, tenant_id = _tenant(live_server)
    client = MemoryClient(api_key=key, host=live_server.base_url)  # calls GET /v1/ping/
    added = _adds_every_way(client, live_server, tenant_id)
    for step in (_searches, _gets_and_pages, _updates, _entities_and_feedback, _deletes):
        step(client, live_server, tenant_id, added)


@dataclass(frozen=True)
class _Added:
    """The memories the scenario adds, as the SDK answered them."""

    allergy: dict[str, Any]
    hiking: dict[str, Any]
    tea: dict[str, Any]
    bob: dict[str, Any]
    dentist: dict[str, Any]


def _adds_every_way(client: MemoryClient, live_server: LiveServer, tenant_id: str) -> _Added:
    """add: a conversation (only the user's words are kept), ids top-level or in filters."""
    allergy = _add(
        client,
        [
            {"role": "user", "content": "I am allergic to peanuts"},
            {"role": "assistant", "content": "Noted, no peanuts."},
        ],
        user_id="alice",
        metadata={"category": "health", "priority": 5},
    )
    assert allergy["memory"] == "I am allergic to peanuts"
    hiking = _add(
        client,
        "I love hiking in the Alps",
        filters={"user_id": "alice", "agent_id": "coach", "run_id": "trip-1"},
        metadata={"category": "hobby", "priority": 2},
        infer=False,
    )
    tea = _add(client, "I drink green tea every morning", user_id="alice", async_mode=True)
    bob = _add(client, "Bob prefers window seats", user_id="bob", metadata={"category": "travel"})
    dentist = _add(client, "Dentist on Friday", user_id="bob", expiration_date="2099-12-31")
    assert client.get(dentist["id"])["expiration_date"] == "2099-12-31"
    client.update(dentist["id"], expiration_date=None)
    assert client.get(dentist["id"])["expiration_date"] is None
    stored = _stored(live_server, tenant_id)
    assert stored[hiking["id"]]["agent_id"] == "coach"
    assert stored[hiking["id"]]["run_id"] == "trip-1"
    assert stored[allergy["id"]]["metadata"] == {"category": "health", "priority": 5}
    assert len(stored) == 5
    return _Added(allergy, hiking, tea, bob, dentist)


def _searches(client: MemoryClient, live_server: LiveServer, tenant_id: str, added: _Added) -> None:
    """search: AND / OR groups, metadata operators, top_k and threshold."""
    found = client.search(
        "What food can't I eat?",
        filters={
            "AND": [
                {"user_id": "alice"},
                {
                    "OR": [
                        {"metadata": {"category": "health"}},
                        {"metadata": {"priority": {"lte": 2}}},
                    ]
                },
            ]
        },
        top_k=5,
    )["results"]
    assert found[0]["id"] == added.allergy["id"]
    assert {hit["id"] for hit in found} == {added.allergy["id"], added.hiking["id"]}
    assert all(hit["user_id"] == "alice" and -1 <= hit["score"] <= 1 for hit in found)
    assert len(client.search("peanuts", filters={"user_id": "alice"}, top_k=1)["results"]) == 1
    assert client.search("peanuts", filters={"user_id": "alice"}, threshold=0.99)["results"] == []
    created = client.search(
        "tea", filters={"AND": [{"user_id": "alice"}, {"created_at": {"gte": "2000-01-01"}}]}
    )
    assert added.tea["id"] in {hit["id"] for hit in created["results"]}


def _gets_and_pages(
    client: MemoryClient, live_server: LiveServer, tenant_id: str, added: _Added
) -> None:
    """get and get_all (numbered pages, filters)."""
    assert client.get(added.allergy["id"])["memory"] == "I am allergic to peanuts"
    first = client.get_all(filters={"user_id": "alice"}, page=1, page_size=2)
    second = client.get_all(filters={"user_id": "alice"}, page=2, page_size=2)
    assert first["count"] == second["count"] == 3
    assert first["next"] and first["previous"] is None and second["next"] is None
    assert len(first["results"]) == 2 and len(second["results"]) == 1
    assert {m["id"] for m in first["results"] + second["results"]} == {
        added.allergy["id"],
        added.hiking["id"],
        added.tea["id"],
    }
    hobbies = client.get_all(
        filters={"AND": [{"user_id": "alice"}, {"metadata": {"category": "hobby"}}]}
    )
    assert [m["id"] for m in hobbies["results"]] == [added.hiking["id"]]


def _updates(client: MemoryClient, live_server: LiveServer, tenant_id: str, added: _Added) -> None:
    """update, history, batch_update."""
    updated = client.update(added.allergy["id"], text="I am allergic to peanuts and shellfish")
    assert updated["memory"] == "I am allergic to peanuts and shellfish"
    events = client.history(added.allergy["id"])
    assert [e["event"] for e in events] == ["ADD", "UPDATE"]
    assert events[1]["old_memory"] == "I am allergic to peanuts"
    assert events[1]["new_memory"] == "I am allergic to peanuts and shellfish"
    client.batch_update(
        [
            {"memory_id": added.hiking["id"], "text": "I love hiking in the Dolomites"},
            {"memory_id": added.tea["id"], "metadata": {"category": "food"}},
        ]
    )
    stored = _stored(live_server, tenant_id)
    assert stored[added.allergy["id"]]["content"] == "I am allergic to peanuts and shellfish"
    assert stored[added.hiking["id"]]["content"] == "I love hiking in the Dolomites"
    assert stored[added.tea["id"]]["metadata"] == {"category": "food"}


def _entities_and_feedback(
    client: MemoryClient, live_server: LiveServer, tenant_id: str, added: _Added
) -> None:
    """users: every user, agent and run with its memory count; feedback is stored."""
    entities = {(e["type"], e["name"]): e["total_memories"] for e in client.users()["results"]}
    assert entities == {
        ("user", "alice"): 3,
        ("user", "bob"): 2,
        ("agent", "coach"): 1,
        ("run", "trip-1"): 1,
    }
    client.feedback(added.allergy["id"], "positive", "exactly what I needed")
    [row] = run_sql(
        live_server.dsn,
        "SELECT feedback, reason FROM memory_feedback WHERE tenant_id = $1::uuid AND memory_id = $2::uuid",
        tenant_id,
        added.allergy["id"],
    )
    assert (row["feedback"], row["reason"]) == ("POSITIVE", "exactly what I needed")


def _deletes(client: MemoryClient, live_server: LiveServer, tenant_id: str, added: _Added) -> None:
    """delete, batch_delete, delete_all, delete_users; reset deletes every user, agent and run, even when one's memories went with another's."""
    client.delete(added.tea["id"])
    with pytest.raises(MemoryNotFoundError):
        client.get(added.tea["id"])
    client.batch_delete([{"memory_id": added.hiking["id"]}])
    assert set(_stored(live_server, tenant_id)) == {
        added.allergy["id"],
        added.bob["id"],
        added.dentist["id"],
    }
    client.delete_all(user_id="bob")
    assert set(_stored(live_server, tenant_id)) == {added.allergy["id"]}
    client.delete_users(user_id="alice")
    assert _stored(live_server, tenant_id) == {}
    assert client.users()["results"] == []
    _add(client, "I sail on weekends", user_id="zoe", agent_id="coach", run_id="trip-2")
    _add(client, "I speak Danish", user_id="yann")
    client.reset()
    assert _stored(live_server, tenant_id) == {}


def test_a_wrong_key_makes_the_sdk_constructor_fail(live_server: LiveServer) -> None:
    with pytest.raises(ValueError, match="API key"):
        MemoryClient(api_key="not-a-key", host=live_server.base_url)


def test_unsupported_options_answer_501_naming_the_feature(live_server: LiveServer) -> None:
    key, tenant_id = _tenant(live_server)
    client = MemoryClient(api_key=key, host=live_server.base_url)
    with pytest.raises(Mem0Error) as rerank:
        client.search("anything", filters={"user_id": "alice"}, rerank=True)
    assert rerank.value.error_code == "HTTP_501" and "reranking" in rerank.value.message
    with pytest.raises(Mem0Error) as immutable:
        client.add("Temporary note", user_id="alice", immutable=True)
    assert immutable.value.error_code == "HTTP_501" and "immutable" in immutable.value.message
    with pytest.raises(Mem0Error) as summary:
        client.get_summary(filters={"user_id": "alice"})
    assert summary.value.error_code == "HTTP_501" and "summaries" in summary.value.message
    assert _stored(live_server, tenant_id) == {}  # the refused add stored nothing


def test_one_tenant_cannot_reach_another_through_the_sdk(live_server: LiveServer) -> None:
    key_a, _ = _tenant(live_server)
    key_b, _ = _tenant(live_server)
    alice = MemoryClient(api_key=key_a, host=live_server.base_url)
    mallory = MemoryClient(api_key=key_b, host=live_server.base_url)
    secret = _add(alice, "My bank PIN is 4321", user_id="alice")
    assert mallory.search("bank PIN", filters={"user_id": "alice"})["results"] == []
    assert mallory.get_all(filters={"user_id": "alice"})["count"] == 0
    assert mallory.users()["results"] == []
    attempts: list[Callable[[], object]] = [
        lambda: mallory.get(secret["id"]),
        lambda: mallory.history(secret["id"]),
        lambda: mallory.update(secret["id"], text="changed"),
        lambda: mallory.delete(secret["id"]),
        lambda: mallory.batch_delete([{"memory_id": secret["id"]}]),
        lambda: mallory.feedback(secret["id"], "NEGATIVE"),
    ]
    for attempt in attempts:
        with pytest.raises(MemoryNotFoundError):
            attempt()
    mallory.delete_users(user_id="alice")  # deletes mallory's own (no) memories of "alice"
    mallory.delete_all(user_id="alice")
    assert alice.get(secret["id"])["memory"] == "My bank PIN is 4321"


def test_every_async_client_method_works_against_the_service(live_server: LiveServer) -> None:
    key, tenant_id = _tenant(live_server)

    async def scenario() -> None:
        async with AsyncMemoryClient(api_key=key, host=live_server.base_url) as client:
            added = await client.add(
                "I am training for a marathon", user_id="carol", metadata={"sport": "running"}
            )
            [memory] = added["results"]
            other = (await client.add("I live in Lisbon", user_id="carol", async_mode=True))[
                "results"
            ][0]
            hits = (
                await client.search(
                    "What sport do I do?",
                    filters={
                        "AND": [
                            {"user_id": "carol"},
                            {"metadata": {"sport": {"in": ["running", "cycling"]}}},
                        ]
                    },
                    top_k=3,
                )
            )["results"]
            assert [hit["id"] for hit in hits] == [memory["id"]]
            assert (await client.get(memory["id"]))["memory"] == "I am training for a marathon"
            page = await client.get_all(filters={"user_id": "carol"}, page=1, page_size=10)
            assert page["count"] == 2
            await client.update(memory["id"], text="I am training for a half marathon")
            assert [e["event"] for e in await client.history(memory["id"])] == ["ADD", "UPDATE"]
            assert {e["name"] for e in (await client.users())["results"]} == {"carol"}
            await client.batch_update([{"memory_id": other["id"], "metadata": {"city": "Lisbon"}}])
            await client.feedback(memory["id"], "NEGATIVE", "outdated")
            await client.delete(memory["id"])
            await client.batch_delete([{"memory_id": other["id"]}])
            await client.add("I have a cat named Miso", user_id="carol")
            await client.delete_all(user_id="carol")
            await client.add("I have a dog named Pixel", run_id="chat-9")
            await client.delete_users(run_id="chat-9")

    asyncio.run(scenario())
    assert _stored(live_server, tenant_id) == {}
    [feedback] = run_sql(
        live_server.dsn,
        "SELECT feedback FROM memory_feedback WHERE tenant_id = $1::uuid",
        tenant_id,
    )
    assert feedback["feedback"] == "NEGATIVE"
    # delete_all and delete_users forgot those scopes' history too, texts included.
    assert (
        run_sql(
            live_server.dsn,
            "SELECT 1 FROM memory_history WHERE tenant_id = $1::uuid AND user_id = 'carol'",
            tenant_id,
        )
        == []
    )


def test_sdk_adds_go_through_the_llm_pipeline_when_one_is_configured(
    llm_server: LiveServer, llm: ScriptedLLM
) -> None:
    key, tenant_id = _tenant(llm_server)
    client = MemoryClient(api_key=key, host=llm_server.base_url)
    llm.replies.append(decisions(("Dana is vegetarian", "ADD", None)))
    [fact] = client.add(
        [{"role": "user", "content": "I stopped eating meat last year."}], user_id="dana"
    )["results"]
    assert (fact["event"], fact["memory"]) == ("ADD", "Dana is vegetarian")
    assert len(llm.requests) == 1

    # async_mode: answered at once with the job as event_id; no LLM call in the request.
    [queued] = client.add("I moved to Porto.", user_id="dana", async_mode=True)["results"]
    assert queued["status"] == "PENDING"
    with httpx.Client(base_url=llm_server.base_url, headers={"X-API-Key": key}) as native:
        job = native.get(f"/v1/jobs/{queued['event_id']}").json()
    assert job["status"] == "queued"
    assert len(llm.requests) == 1
    assert [m["content"] for m in _stored(llm_server, tenant_id).values()] == ["Dana is vegetarian"]


def test_the_paths_of_1x_clients_are_served_too(live_server: LiveServer) -> None:
    """mem0ai 1.x adds, lists and searches through older paths; these are its exact requests."""
    key, tenant_id = _tenant(live_server)
    headers = {"Authorization": f"Token {key}", "Mem0-User-ID": "sdk-user"}
    with httpx.Client(base_url=live_server.base_url, headers=headers) as legacy:
        added = legacy.post(
            "/v1/memories/",
            json={
                "messages": [{"role": "user", "content": "I collect vinyl records"}],
                "user_id": "erin",
                "metadata": {"hobby": "music"},
                "async_mode": True,
                "output_format": "v1.1",
            },
        )
        assert added.status_code == 200, added.text
        [memory] = added.json()["results"]
        listed = legacy.post(
            "/v2/memories/", params={"page": 1, "page_size": 5}, json={"user_id": "erin"}
        )
        assert [m["id"] for m in listed.json()["results"]] == [memory["id"]]
        found = legacy.post(
            "/v2/memories/search/",
            json={
                "query": "What music do I like?",
                "user_id": "erin",
                "filters": {"hobby": "music"},
            },
        )
        assert [hit["memory"] for hit in found.json()["results"]] == ["I collect vinyl records"]
        # The native API keeps its own paths: no trailing slash, its own shapes.
        native = legacy.get(f"/v1/memories/{memory['id']}")
        assert native.json()["text"] == "I collect vinyl records"
        unknown = legacy.get("/v9/nothing/")
        assert unknown.status_code == 404
        assert "trailing slash" in unknown.json()["detail"]
    assert [m["content"] for m in _stored(live_server, tenant_id).values()] == [
        "I collect vinyl records"
    ]
