"""Requests per API key are limited (token bucket per replica): 429 with Retry-After."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from service.domain.rate_limit import RateLimiter
from service.errors import RateLimited
from tests.conftest import LiveServer, create_api_key, start_server


@pytest.fixture(scope="module")
def limited_server(live_server: LiveServer) -> Iterator[LiveServer]:
    settings = replace(live_server.settings, rate_limit_per_s=0.5, rate_limit_burst=3)
    server = start_server(settings, live_server.dsn, live_server.embedder)
    yield server
    server.stop()


def _client(server: LiveServer) -> httpx.Client:
    key = create_api_key(server.dsn, f"limited-{uuid.uuid4().hex[:8]}")
    return httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=30)


def test_a_key_over_its_rate_gets_429_and_then_recovers(limited_server: LiveServer) -> None:
    with _client(limited_server) as client, _client(limited_server) as neighbour:
        statuses = [
            client.get("/v1/memories", params={"user_id": "u"}).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        refused = client.get("/v1/memories", params={"user_id": "u"})
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert "too many requests" in refused.json()["detail"]
        # Another key has its own bucket.
        assert neighbour.get("/v1/memories", params={"user_id": "u"}).status_code == 200
        time.sleep(float(refused.headers["retry-after"]))
        assert client.get("/v1/memories", params={"user_id": "u"}).status_code == 200


def test_refused_writes_store_nothing(limited_server: LiveServer) -> None:
    with _client(limited_server) as client:
        bodies = [
            {"text": f"rate limited text {n}", "user_id": "rl", "infer": False} for n in range(5)
        ]
        statuses = [client.post("/v1/memories", json=body).status_code for body in bodies]
        assert statuses == [201, 201, 201, 429, 429]
        time.sleep(2.1)  # one token back at 0.5/s
        stored = client.get("/v1/memories", params={"user_id": "rl"}).json()["memories"]
        assert sorted(m["text"] for m in stored) == [f"rate limited text {n}" for n in range(3)]


def test_a_write_refused_for_its_rate_runs_when_retried_with_the_same_idempotency_key(
    limited_server: LiveServer,
) -> None:
    with _client(limited_server) as client:
        for _ in range(3):
            assert client.get("/v1/memories", params={"user_id": "rl-retry"}).status_code == 200
        body = {"text": "retried after its 429", "user_id": "rl-retry", "infer": False}
        headers = {"Idempotency-Key": str(uuid.uuid4())}

        refused = client.post("/v1/memories", json=body, headers=headers)
        assert refused.status_code == 429
        time.sleep(float(refused.headers["retry-after"]) + 0.1)
        retried = client.post("/v1/memories", json=body, headers=headers)

        assert retried.status_code == 201, retried.text
        time.sleep(2.1)  # one token back at 0.5/s
        stored = client.get("/v1/memories", params={"user_id": "rl-retry"}).json()["memories"]
        assert [m["text"] for m in stored] == ["retried after its 429"]


def test_the_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(per_second=10.0, burst=2, clock=lambda: now[0])
    limiter.take(b"k")
    limiter.take(b"k")
    with pytest.raises(RateLimited) as refused:
        limiter.take(b"k")
    assert refused.value.retry_after_s == 1
    now[0] = 0.1  # one token back after 1/10 s
    limiter.take(b"k")
    with pytest.raises(RateLimited):
        limiter.take(b"k")
    assert RateLimiter(per_second=0, burst=1).enabled is False
