"""The consistency token without a replica: every write answers one, reads check it."""

from __future__ import annotations

import re
import uuid

import httpx

TOKEN = "Consistency-Token"
LSN = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")


def test_every_write_answers_a_token_even_when_replayed(client: httpx.Client) -> None:
    added = client.post("/v1/memories", json={"text": "tokens everywhere", "user_id": "tk"})
    memory_id = added.json()["results"][0]["memory"]["id"]
    batch = client.post(
        "/v1/memories/batch", json={"items": [{"text": "one more", "user_id": "tk"}]}
    )
    patched = client.patch(f"/v1/memories/{memory_id}", json={"text": "tokens, changed"})
    mem0 = client.post(
        "/v1/memories/", json={"messages": [{"role": "user", "content": "hi"}], "user_id": "tk"}
    )
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"text": "once only", "user_id": "tk"}
    first, replayed = (client.post("/v1/memories", json=body, headers=key) for _ in range(2))
    deleted = client.delete(f"/v1/memories/{memory_id}")

    for answer in (added, batch, patched, mem0, first, replayed, deleted):
        assert answer.status_code < 300, answer.text
        assert LSN.match(answer.headers[TOKEN]), answer.headers
    assert replayed.headers["Idempotent-Replayed"] == "true"
    # A position past every commit before it: never behind an earlier answer's.
    positions = [int(a.headers[TOKEN].replace("/", ""), 16) for a in (added, deleted)]
    assert positions == sorted(positions)


def test_reads_do_not_answer_a_token(client: httpx.Client) -> None:
    for answer in (
        client.get("/v1/memories", params={"user_id": "tk"}),
        client.post("/v1/search", json={"query": "anything", "user_id": "tk"}),
    ):
        assert answer.status_code == 200
        assert TOKEN not in answer.headers


def test_a_malformed_token_fails_reads_only(client: httpx.Client) -> None:
    bad = {TOKEN: "yesterday"}
    for read in (
        client.get("/v1/memories", params={"user_id": "tk"}, headers=bad),
        client.post("/v1/search", json={"query": "x", "user_id": "tk"}, headers=bad),
        client.post("/v1/context", json={"query": "x", "user_id": "tk"}, headers=bad),
    ):
        assert read.status_code == 400, read.text
        assert read.headers["content-type"] == "application/problem+json"
        assert TOKEN in read.json()["detail"]
    # Probes and writes do not use it, so it does not fail them.
    assert client.get("/healthz", headers=bad).status_code == 200
    assert client.get("/readyz", headers=bad).status_code == 200
    write = client.post("/v1/memories", json={"text": "still fine", "user_id": "tk"}, headers=bad)
    assert write.status_code == 201


def test_two_tokens_are_a_problem(client: httpx.Client) -> None:
    headers = [(TOKEN, "0/1"), (TOKEN, "0/2")]
    response = client.get("/v1/memories", params={"user_id": "tk"}, headers=headers)
    assert response.status_code == 400
    assert "one Consistency-Token" in response.json()["detail"]


def test_a_token_from_the_future_falls_back_without_a_replica(client: httpx.Client) -> None:
    future = {TOKEN: "FFFFFFFF/FFFFFFFF"}
    assert client.get("/v1/memories", params={"user_id": "tk"}, headers=future).status_code == 200
