"""Adding, reading, listing, changing and deleting memories over HTTP."""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import LiveServer, add_text, run_sql


def test_add_text_stores_embedded_memory_with_add_history(
    client: httpx.Client, live_server: LiveServer
) -> None:
    response = client.post(
        "/v1/memories",
        json={"text": "Alice is allergic to peanuts", "user_id": "alice", "metadata": {"k": 1}},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["llm_used"] is False
    [result] = body["results"]
    assert result["event"] == "ADD"
    memory = result["memory"]
    assert memory["text"] == "Alice is allergic to peanuts"
    assert memory["user_id"] == "alice" and memory["agent_id"] is None
    assert memory["metadata"] == {"k": 1}
    assert client.get(f"/v1/memories/{memory['id']}").json() == memory
    [row] = run_sql(
        live_server.dsn,
        "SELECT vector_dims(embedding) AS dims, content FROM memories WHERE id = $1",
        uuid.UUID(memory["id"]),
    )
    assert row["dims"] == 384
    events = client.get(f"/v1/memories/{memory['id']}/history").json()["events"]
    assert [(e["event"], e["old_text"], e["new_text"]) for e in events] == [
        ("ADD", None, "Alice is allergic to peanuts")
    ]


def test_exact_duplicate_in_same_scope_is_not_stored_twice(
    client: httpx.Client, live_server: LiveServer
) -> None:
    first = add_text(client, "Bob likes green tea", user_id="bob")

    again = client.post(
        "/v1/memories", json={"text": "  bob LIKES green   tea ", "user_id": "bob", "infer": False}
    ).json()["results"][0]
    other_scope = add_text(client, "Bob likes green tea", user_id="bob", run_id="r1")

    assert again["event"] == "NONE"
    assert again["memory"]["id"] == first["id"]
    assert other_scope["id"] != first["id"]
    rows = run_sql(
        live_server.dsn,
        "SELECT count(*) AS n FROM memories WHERE user_id = 'bob' AND run_id IS NULL AND id = $1",
        uuid.UUID(first["id"]),
    )
    assert rows[0]["n"] == 1
    listed = client.get("/v1/memories", params={"user_id": "bob"}).json()["memories"]
    assert len(listed) == 2


def test_messages_without_inference_keep_user_and_assistant_turns(client: httpx.Client) -> None:
    response = client.post(
        "/v1/memories",
        json={
            "user_id": "carol",
            "infer": False,
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "I am training for the Berlin marathon."},
                {"role": "assistant", "content": "Good luck with the marathon training!"},
            ],
        },
    )

    assert response.status_code == 201
    texts = [r["memory"]["text"] for r in response.json()["results"]]
    assert texts == [
        "I am training for the Berlin marathon.",
        "Good luck with the marathon training!",
    ]


def test_inference_without_llm_keeps_user_turns_and_skips_near_duplicates(
    client: httpx.Client,
) -> None:
    stored = add_text(client, "I am vegetarian.", user_id="dave")

    response = client.post(
        "/v1/memories",
        json={
            "user_id": "dave",
            "messages": [
                {"role": "user", "content": "I am a vegetarian"},
                {"role": "assistant", "content": "Noted."},
                {"role": "user", "content": "My sister lives in Porto."},
            ],
        },
    )

    results = response.json()["results"]
    assert [(r["event"], r["memory"]["text"]) for r in results] == [
        ("NONE", "I am vegetarian."),
        ("ADD", "My sister lives in Porto."),
    ]
    assert results[0]["memory"]["id"] == stored["id"]


def test_batch_add_stores_each_item_in_its_scope(client: httpx.Client) -> None:
    response = client.post(
        "/v1/memories/batch",
        json={
            "items": [
                {"text": "Erin plays the cello", "user_id": "erin"},
                {"text": "Erin's cat is called Miso", "user_id": "erin", "metadata": {"t": "pet"}},
                {"text": "The support agent speaks Portuguese", "agent_id": "support"},
                {"text": "Erin plays the cello", "user_id": "erin"},
            ]
        },
    )

    assert response.status_code == 201
    events = [r["event"] for r in response.json()["results"]]
    assert events == ["ADD", "ADD", "ADD", "NONE"]
    assert len(client.get("/v1/memories", params={"user_id": "erin"}).json()["memories"]) == 2
    assert len(client.get("/v1/memories", params={"agent_id": "support"}).json()["memories"]) == 1


def test_a_batch_stores_only_what_its_scopes_do_not_hold_live_with_one_add_event_each(
    client: httpx.Client,
) -> None:
    held = add_text(client, "Gus keeps bees", user_id="gus")
    lapsed = add_text(
        client,
        "Gus is in Lisbon this week",
        user_id="gus",
        expires_at=(datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
    )
    time.sleep(1.2)  # expired, and not purged yet: its copy must not block the new one

    response = client.post(
        "/v1/memories/batch",
        json={
            "items": [
                {"text": "Gus is in Lisbon this week", "user_id": "gus"},
                {"text": "  gus keeps BEES ", "user_id": "gus"},
                {"text": "Gus drives a van", "user_id": "gus"},
                {"text": "Gus drives a van", "user_id": "gus"},
                {"text": "Gus keeps bees", "agent_id": "beekeeping"},
            ]
        },
    )

    assert response.status_code == 201, response.text
    results = response.json()["results"]
    assert [r["event"] for r in results] == ["ADD", "NONE", "ADD", "NONE", "ADD"]
    assert results[0]["memory"]["id"] != lapsed["id"]
    assert results[1]["memory"]["id"] == held["id"]
    assert results[3]["memory"]["id"] == results[2]["memory"]["id"]
    listed = client.get("/v1/memories", params={"user_id": "gus"}).json()["memories"]
    assert sorted(m["text"] for m in listed) == [
        "Gus drives a van",
        "Gus is in Lisbon this week",
        "Gus keeps bees",
    ]
    for result in results:
        if result["event"] == "ADD":
            memory = result["memory"]
            events = client.get(f"/v1/memories/{memory['id']}/history").json()["events"]
            assert [(e["event"], e["new_text"]) for e in events] == [("ADD", memory["text"])]


def test_list_pages_through_every_memory_once_newest_first(client: httpx.Client) -> None:
    ids = [
        add_text(client, f"fact number {n} about frank", user_id="frank")["id"] for n in range(7)
    ]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"user_id": "frank", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/v1/memories", params=params).json()
        seen += [m["id"] for m in body["memories"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == list(reversed(ids))


def test_update_text_reembeds_and_records_old_and_new(
    client: httpx.Client, live_server: LiveServer
) -> None:
    memory = add_text(client, "Gina lives in Berlin", user_id="gina", metadata={"city": "Berlin"})
    memory_id = uuid.UUID(memory["id"])
    [before] = run_sql(live_server.dsn, "SELECT embedding FROM memories WHERE id = $1", memory_id)

    response = client.patch(f"/v1/memories/{memory_id}", json={"text": "Gina lives in Lisbon"})

    assert response.status_code == 200
    assert response.json()["text"] == "Gina lives in Lisbon"
    assert response.json()["metadata"] == {"city": "Berlin"}
    [after] = run_sql(live_server.dsn, "SELECT embedding FROM memories WHERE id = $1", memory_id)
    assert list(before["embedding"]) != list(after["embedding"])
    events = client.get(f"/v1/memories/{memory_id}/history").json()["events"]
    assert [e["event"] for e in events] == ["ADD", "UPDATE"]
    assert (events[1]["old_text"], events[1]["new_text"]) == (
        "Gina lives in Berlin",
        "Gina lives in Lisbon",
    )
    hits = client.post("/v1/search", json={"query": "Lisbon", "user_id": "gina"}).json()
    assert hits["results"][0]["memory"]["id"] == str(memory_id)


def test_update_metadata_only_keeps_text_and_embedding(
    client: httpx.Client, live_server: LiveServer
) -> None:
    memory = add_text(client, "Hugo drinks oat milk", user_id="hugo", metadata={"a": 1})
    memory_id = uuid.UUID(memory["id"])
    [before] = run_sql(live_server.dsn, "SELECT embedding FROM memories WHERE id = $1", memory_id)

    response = client.patch(f"/v1/memories/{memory_id}", json={"metadata": {"b": 2}})

    assert response.json()["metadata"] == {"b": 2}
    assert response.json()["text"] == "Hugo drinks oat milk"
    [after] = run_sql(live_server.dsn, "SELECT embedding FROM memories WHERE id = $1", memory_id)
    assert list(before["embedding"]) == list(after["embedding"])
    last = client.get(f"/v1/memories/{memory_id}/history").json()["events"][-1]
    assert (last["old_metadata"], last["new_metadata"]) == ({"a": 1}, {"b": 2})


def test_update_to_text_already_in_scope_is_a_conflict(client: httpx.Client) -> None:
    add_text(client, "Ivy likes jazz", user_id="ivy")
    other = add_text(client, "Ivy likes rock", user_id="ivy")

    response = client.patch(f"/v1/memories/{other['id']}", json={"text": "ivy likes jazz"})

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"/v1/memories/{other['id']}").json()["text"] == "Ivy likes rock"


def test_delete_one_keeps_its_history(client: httpx.Client) -> None:
    memory = add_text(client, "Jack has a dentist appointment", user_id="jack")

    response = client.delete(f"/v1/memories/{memory['id']}")

    assert response.status_code == 204
    assert client.get(f"/v1/memories/{memory['id']}").status_code == 404
    assert client.delete(f"/v1/memories/{memory['id']}").status_code == 404
    events = client.get(f"/v1/memories/{memory['id']}/history").json()["events"]
    assert [(e["event"], e["old_text"]) for e in events][-1] == (
        "DELETE",
        "Jack has a dentist appointment",
    )


def test_delete_scope_removes_only_that_scope(
    client: httpx.Client, live_server: LiveServer
) -> None:
    add_text(client, "Kim likes sushi", user_id="kim")
    add_text(client, "Kim works at night", user_id="kim", run_id="r9")
    kept = add_text(client, "Lea likes sushi", user_id="lea")

    response = client.delete("/v1/memories", params={"user_id": "kim"})

    assert response.status_code == 200
    assert response.json() == {"deleted": 2}
    assert client.get("/v1/memories", params={"user_id": "kim"}).json()["memories"] == []
    assert client.get(f"/v1/memories/{kept['id']}").status_code == 200
    hits = client.post("/v1/search", json={"query": "sushi", "user_id": "kim"}).json()
    assert hits["results"] == []


def test_delete_without_scope_is_refused_and_deletes_nothing(
    client: httpx.Client, live_server: LiveServer
) -> None:
    memory = add_text(client, "Max collects stamps", user_id="max")

    response = client.delete("/v1/memories")

    assert response.status_code == 422
    assert "scope" in response.json()["detail"]
    assert client.get(f"/v1/memories/{memory['id']}").status_code == 200


def test_racing_adds_of_the_same_text_store_it_once(
    client: httpx.Client, live_server: LiveServer
) -> None:
    body = {"text": "Quinn's flight leaves at 7am", "user_id": "quinn", "infer": False}

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: client.post("/v1/memories", json=body), range(8)))

    events = sorted(r.json()["results"][0]["event"] for r in responses)
    assert events == ["ADD"] + ["NONE"] * 7
    assert len({r.json()["results"][0]["memory"]["id"] for r in responses}) == 1
    listed = client.get("/v1/memories", params={"user_id": "quinn"}).json()["memories"]
    assert len(listed) == 1


def test_racing_near_duplicates_with_inference_store_one(client: httpx.Client) -> None:
    texts = ["Rosa is a vegetarian", "Rosa is vegetarian", "rosa is a vegetarian."] * 3
    # A large batch keeps the model busy, so the racing adds queue up, share one forward
    # pass and then reach the database together; warm connections let them truly overlap.
    filler = {"items": [{"text": f"filler {n} " * 40, "user_id": "filler"} for n in range(100)]}
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda _: client.get("/v1/memories", params={"user_id": "x"}), range(10)))
        busy = pool.submit(client.post, "/v1/memories/batch", json=filler)
        time.sleep(0.05)
        responses = list(
            pool.map(
                lambda text: client.post("/v1/memories", json={"text": text, "user_id": "rosa"}),
                texts,
            )
        )
        assert busy.result().status_code == 201

    assert [r.status_code for r in responses] == [201] * 9
    events = [r.json()["results"][0]["event"] for r in responses]
    assert events.count("ADD") == 1, events
    assert len(client.get("/v1/memories", params={"user_id": "rosa"}).json()["memories"]) == 1


def test_a_memory_told_in_the_past_keeps_that_time_and_the_future_is_refused(
    client: httpx.Client,
) -> None:
    told = add_text(
        client, "Hana moved to Osaka", user_id="hana", created_at="2023-05-08T13:56:00+02:00"
    )
    latest = add_text(client, "Hana adopted a cat", user_id="hana")
    from_messages = client.post(
        "/v1/memories",
        json={
            "messages": [
                {
                    "role": "user",
                    "content": "I learnt to surf",
                    "timestamp": "2024-07-01T09:00:00Z",
                },
                {"role": "user", "content": "I sold my car"},
            ],
            "user_id": "hana",
            "infer": False,
            "created_at": "2024-06-30T10:00:00Z",
        },
    ).json()["results"]
    future = client.post(
        "/v1/memories",
        json={
            "text": "Hana will win the lottery",
            "user_id": "hana",
            "infer": False,
            "created_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    naive = client.post(
        "/v1/memories/batch",
        json={
            "items": [{"text": "Hana naps", "user_id": "hana", "created_at": "2023-01-01T00:00:00"}]
        },
    )

    assert told["created_at"] == "2023-05-08T11:56:00Z"
    assert [r["memory"]["created_at"] for r in from_messages] == [
        "2024-07-01T09:00:00Z",
        "2024-06-30T10:00:00Z",
    ]
    assert future.status_code == 422
    assert future.headers["content-type"] == "application/problem+json"
    assert "must not be in the future" in future.json()["detail"]
    assert naive.status_code == 400
    assert "timezone" in naive.json()["detail"]
    listed = client.get("/v1/memories", params={"user_id": "hana"}).json()["memories"]
    assert [m["text"] for m in listed] == [
        latest["text"],
        "I learnt to surf",
        "I sold my car",
        "Hana moved to Osaka",
    ]
