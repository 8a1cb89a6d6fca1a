"""Bad input and bad credentials: a clear problem+json answer, and the database unchanged."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, add_text, create_api_key, run_sql


def count_memories(live_server: LiveServer) -> int:
    return int(run_sql(live_server.dsn, "SELECT count(*) AS n FROM memories")[0]["n"])


def assert_problem(response: httpx.Response, status: int, detail_part: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["type"] == "about:blank"
    assert detail_part in body["detail"], body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"{not json", 400, "JSON is malformed"),
        ({"text": "hi", "user_id": "u", "colour": "red"}, 400, "unknown field `colour`"),
        ({"text": 42, "user_id": "u"}, 400, "Expected `str | null`, got `int`"),
        ({"text": "", "user_id": "u"}, 400, "length >= 1"),
        ({"text": "   ", "user_id": "u"}, 422, "blank"),
        ({"text": "x" * 8001, "user_id": "u"}, 422, "the limit is 8000"),
        ({"text": "hi"}, 422, "user_id, agent_id, run_id"),
        (
            {"text": "hi", "messages": [{"role": "user", "content": "hi"}], "user_id": "u"},
            422,
            "exactly one",
        ),
        ({"messages": [{"role": "robot", "content": "hi"}], "user_id": "u"}, 400, "robot"),
        (
            {"messages": [{"role": "system", "content": "be nice"}], "user_id": "u"},
            422,
            "no message",
        ),
        ({"text": "hi", "user_id": "u", "metadata": [1]}, 400, "Expected `object`"),
        ({"text": "hi", "user_id": ""}, 400, "length >= 1"),
    ],
)
def test_invalid_add_is_rejected_and_stores_nothing(
    client: httpx.Client, live_server: LiveServer, body: Any, status: int, detail: str
) -> None:
    before = count_memories(live_server)
    if isinstance(body, bytes):
        response = client.post(
            "/v1/memories", content=body, headers={"content-type": "application/json"}
        )
    else:
        response = client.post("/v1/memories", json=body)

    assert_problem(response, status, detail)
    assert count_memories(live_server) == before


def test_too_many_batch_items_is_rejected_and_stores_nothing(
    client: httpx.Client, live_server: LiveServer
) -> None:
    before = count_memories(live_server)
    items = [{"text": f"fact {n}", "user_id": "u"} for n in range(101)]

    assert_problem(client.post("/v1/memories/batch", json={"items": items}), 422, "1 to 100 items")
    assert count_memories(live_server) == before


def test_batch_with_one_bad_item_stores_none_of_them(
    client: httpx.Client, live_server: LiveServer
) -> None:
    before = count_memories(live_server)
    items = [{"text": "a good fact", "user_id": "u"}, {"text": "no scope"}]

    assert_problem(client.post("/v1/memories/batch", json={"items": items}), 422, "items[1]")
    assert count_memories(live_server) == before


def test_oversized_body_is_rejected_before_parsing(client: httpx.Client) -> None:
    response = client.post(
        "/v1/memories",
        content=b'{"text": "' + b"x" * 1_100_000 + b'"}',
        headers={"content-type": "application/json"},
    )

    assert_problem(response, 413, "")


def test_bad_limit_and_cursor_and_id(client: httpx.Client) -> None:
    assert_problem(
        client.post("/v1/search", json={"query": "x", "user_id": "u", "limit": 0}), 400, "limit"
    )
    assert_problem(
        client.get("/v1/memories", params={"user_id": "u", "cursor": "nope"}), 422, "cursor"
    )
    assert_problem(
        client.get("/v1/memories", params={"user_id": "u", "limit": "many"}), 400, "limit"
    )
    assert_problem(client.get("/v1/memories/not-a-uuid"), 404, "ids are UUIDs")
    assert_problem(client.get("/v1/no-such-thing"), 404, "check the URL")
    assert_problem(client.get(f"/v1/memories/{uuid.uuid4()}"), 404, "no memory")
    assert_problem(
        client.patch(f"/v1/memories/{uuid.uuid4()}", json={"text": "x"}), 404, "no memory"
    )
    assert_problem(client.get(f"/v1/memories/{uuid.uuid4()}/history"), 404, "no memory")


def test_update_with_nothing_to_change_is_explained(client: httpx.Client) -> None:
    memory = add_text(client, "Nina sings", user_id="nina")

    assert_problem(
        client.patch(f"/v1/memories/{memory['id']}", json={}),
        422,
        "'text', 'metadata' and/or 'expires_at'",
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer msk_wrong"},
        {"X-API-Key": "nope"},
        {"Authorization": "Basic abc"},
    ],
)
def test_requests_without_a_valid_key_are_refused(
    live_server: LiveServer, headers: dict[str, str]
) -> None:
    response = httpx.post(
        f"{live_server.base_url}/v1/memories", json={"text": "hi", "user_id": "u"}, headers=headers
    )

    body = assert_problem(response, 401, "API key")
    assert "msk_wrong" not in str(body)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_revoked_key_stops_working(live_server: LiveServer) -> None:
    key = create_api_key(live_server.dsn, f"revoked-{uuid.uuid4().hex[:8]}")
    headers = {"X-API-Key": key}
    assert (
        httpx.get(
            f"{live_server.base_url}/v1/memories", params={"user_id": "u"}, headers=headers
        ).status_code
        == 200
    )

    run_sql(
        live_server.dsn, "UPDATE api_keys SET revoked_at = now() WHERE key_prefix = $1", key[:12]
    )
    api_key_cache_ttl_s = 5.0
    time.sleep(api_key_cache_ttl_s + 0.2)
    response = httpx.get(
        f"{live_server.base_url}/v1/memories", params={"user_id": "u"}, headers=headers
    )
    assert_problem(response, 401, "revoked")


def test_keys_are_stored_hashed(live_server: LiveServer) -> None:
    key = create_api_key(live_server.dsn, f"hashed-{uuid.uuid4().hex[:8]}")

    rows = run_sql(
        live_server.dsn, "SELECT key_hash, key_prefix FROM api_keys WHERE key_prefix = $1", key[:12]
    )

    assert len(rows) == 1
    assert bytes(rows[0]["key_hash"]) == hashlib.sha256(key.encode()).digest()
    assert key not in str(run_sql(live_server.dsn, "SELECT * FROM api_keys"))


def test_other_tenant_sees_nothing_and_changes_nothing(
    client: httpx.Client, other_client: httpx.Client, live_server: LiveServer
) -> None:
    memory = add_text(client, "Olga's PIN hint is her cat's birthday", user_id="shared-user-id")
    memory_id = memory["id"]

    # Same scope ids, other tenant: every route behaves as if the memory did not exist.
    assert other_client.get(f"/v1/memories/{memory_id}").status_code == 404
    assert (
        other_client.patch(f"/v1/memories/{memory_id}", json={"text": "hacked"}).status_code == 404
    )
    assert other_client.delete(f"/v1/memories/{memory_id}").status_code == 404
    assert other_client.get(f"/v1/memories/{memory_id}/history").status_code == 404
    assert (
        other_client.get("/v1/memories", params={"user_id": "shared-user-id"}).json()["memories"]
        == []
    )
    assert (
        other_client.post("/v1/search", json={"query": "PIN", "user_id": "shared-user-id"}).json()[
            "results"
        ]
        == []
    )
    assert other_client.delete("/v1/memories", params={"user_id": "shared-user-id"}).json() == {
        "deleted": 0
    }
    # Not-found answers are identical for "exists elsewhere" and "never existed".
    missing = other_client.get(f"/v1/memories/{uuid.uuid4()}").json()
    hidden = other_client.get(f"/v1/memories/{memory_id}").json()
    assert missing["detail"].replace(missing["instance"].rsplit("/", 1)[1], "") == hidden[
        "detail"
    ].replace(memory_id, "")

    current = client.get(f"/v1/memories/{memory_id}").json()
    assert current["text"] == memory["text"]
    assert [
        e["event"] for e in client.get(f"/v1/memories/{memory_id}/history").json()["events"]
    ] == ["ADD"]


def test_health_endpoints_need_no_key(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live_server.base_url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": True, "model": True}


def test_request_id_is_echoed(client: httpx.Client) -> None:
    response = client.get(
        "/v1/memories", params={"user_id": "u"}, headers={"X-Request-ID": "abc-123"}
    )

    assert response.headers["x-request-id"] == "abc-123"


def test_values_postgres_cannot_hold_are_refused_and_store_nothing(client: httpx.Client) -> None:
    """Found by fuzzing: a NUL character used to reach Postgres and answer 500."""
    for body in (
        {"text": "nul \u0000 inside", "user_id": "nul-user"},
        {"text": "fine", "user_id": "nul-user", "metadata": {"k": "a\u0000b"}},
        {"text": "fine", "user_id": "nul\u0000user"},
    ):
        response = client.post("/v1/memories", json={**body, "infer": False})
        assert response.status_code == 422, response.text
        assert "cannot be stored" in response.json()["detail"]
    assert client.get("/v1/memories", params={"user_id": "nul-user"}).json()["memories"] == []


def test_a_query_parameter_given_twice_is_refused(client: httpx.Client) -> None:
    """Found by fuzzing: ?user_id=a&user_id=b used to act on one of the two silently."""
    response = client.delete("/v1/memories", params=[("user_id", "a"), ("user_id", "b")])
    assert response.status_code == 400
    assert "user_id" in response.json()["detail"]
