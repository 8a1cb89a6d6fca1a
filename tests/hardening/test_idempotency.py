"""Idempotency-Key: a retried write has one effect, and every retry gets the first answer."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx

from tests.conftest import LiveServer, create_api_key, run_sql, start_server


def _count(server: LiveServer, text: str) -> int:
    [row] = run_sql(server.dsn, "SELECT count(*) AS n FROM memories WHERE content = $1", text)
    return int(row["n"])


def test_a_retry_gets_the_first_answer_without_a_second_effect(
    client: httpx.Client, live_server: LiveServer
) -> None:
    key = str(uuid.uuid4())
    body = {"text": "Idempotent add number one", "user_id": "idem", "infer": False}
    first = client.post("/v1/memories", json=body, headers={"Idempotency-Key": key})
    client.delete("/v1/memories", params={"user_id": "idem"})  # would let a second add happen
    again = client.post("/v1/memories", json=body, headers={"Idempotency-Key": key})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert _count(live_server, "Idempotent add number one") == 0  # deleted, and not re-added


def test_the_same_key_with_another_request_is_refused(client: httpx.Client) -> None:
    key = str(uuid.uuid4())
    body = {"text": "First use of the key", "user_id": "idem", "infer": False}
    assert client.post("/v1/memories", json=body, headers={"Idempotency-Key": key}).is_success
    other = client.post(
        "/v1/memories", json={**body, "text": "Another text"}, headers={"Idempotency-Key": key}
    )
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert "different request" in other.json()["detail"]
    assert client.get("/v1/memories", params={"user_id": "idem"}).json()["memories"][0]["text"] == (
        "First use of the key"
    )


def test_refusals_are_answers_too_and_are_replayed(client: httpx.Client) -> None:
    key = str(uuid.uuid4())
    body = {"text": "", "user_id": "idem"}
    first = client.post("/v1/memories", json=body, headers={"Idempotency-Key": key})
    again = client.post("/v1/memories", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()


def test_a_refusal_of_how_the_request_was_sent_is_not_replayed(client: httpx.Client) -> None:
    """Content-Type and Accept are not in the key's fingerprint: a retry that fixes them must
    run, not get the refusal again."""
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = b'{"text": "Dana collects stamps", "user_id": "dana", "infer": false}'
    refused = client.post(
        "/v1/memories", content=body, headers={**key, "Content-Type": "text/plain"}
    )
    fixed = client.post(
        "/v1/memories", content=body, headers={**key, "Content-Type": "application/json"}
    )
    assert refused.status_code == 415
    assert fixed.status_code == 201, fixed.text
    assert "idempotent-replayed" not in fixed.headers


def test_concurrent_retries_with_one_key_create_exactly_one_memory(
    live_server: LiveServer, api_key: str
) -> None:
    key = str(uuid.uuid4())
    text = f"Concurrent idempotent add {key}"
    body = {"text": text, "user_id": "idem-race", "infer": False}

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.base_url, timeout=30) as http:
            return http.post(
                "/v1/memories",
                json=body,
                headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": key},
            )

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(send, range(24)))

    assert {r.status_code for r in responses} <= {201, 409}
    busy = [r for r in responses if r.status_code == 409]
    assert all(r.headers["retry-after"] == "1" for r in busy)
    answers = {r.json()["results"][0]["memory"]["id"] for r in responses if r.status_code == 201}
    assert len(answers) == 1
    assert _count(live_server, text) == 1
    final = send(0)  # a retry after the dust settles gets the one answer
    assert final.status_code == 201 and final.json()["results"][0]["memory"]["id"] in answers


def test_keys_belong_to_their_tenant(
    client: httpx.Client, other_client: httpx.Client, live_server: LiveServer
) -> None:
    key = str(uuid.uuid4())
    mine = client.post(
        "/v1/memories",
        json={"text": "Tenant A's keyed text", "user_id": "u", "infer": False},
        headers={"Idempotency-Key": key},
    )
    theirs = other_client.post(
        "/v1/memories",
        json={"text": "Tenant B's keyed text", "user_id": "u", "infer": False},
        headers={"Idempotency-Key": key},
    )
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["results"][0]["memory"]["text"] == "Tenant B's keyed text"


def test_a_key_is_forgotten_after_its_time_to_live(live_server: LiveServer) -> None:
    server = start_server(
        replace(live_server.settings, idempotency_ttl_s=1.0), live_server.dsn, live_server.embedder
    )
    try:
        api_key = create_api_key(server.dsn, f"idem-ttl-{uuid.uuid4().hex[:8]}")
        with httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": "reused-key"},
        ) as http:
            first = {"text": "Before expiry", "user_id": "ttl", "infer": False}
            assert http.post("/v1/memories", json=first).status_code == 201
            time.sleep(1.5)
            second = {"text": "After expiry", "user_id": "ttl", "infer": False}
            later = http.post("/v1/memories", json=second)
        assert later.status_code == 201 and "idempotent-replayed" not in later.headers
        assert _count(server, "After expiry") == 1
    finally:
        server.stop()


def test_a_malformed_key_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/v1/memories",
        json={"text": "x", "user_id": "idem"},
        headers={"Idempotency-Key": "has spaces in it"},
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]


def test_a_retry_sent_the_moment_the_answer_arrives_is_replayed(client: httpx.Client) -> None:
    # The answer is recorded before it is sent: a retry can never find the key still claimed
    # (it used to answer 409 now and then, when the retry beat the recording).
    for round_ in range(30):
        key = str(uuid.uuid4())
        body = {"text": f"Instant retry {round_} {key}", "user_id": "idem-instant"}
        first = client.post("/v1/memories", json=body, headers={"Idempotency-Key": key})
        again = client.post("/v1/memories", json=body, headers={"Idempotency-Key": key})
        assert (first.status_code, again.status_code) == (201, 201), again.text
        assert again.headers["idempotent-replayed"] == "true"
