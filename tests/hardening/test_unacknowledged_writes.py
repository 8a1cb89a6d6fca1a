"""A write that took effect but whose answer was lost is answered as it happened, and a retry
with its Idempotency-Key replays that answer (issue 15, §6): it used to answer a fresh NONE.

Two real ways to lose an answer: the service's connection to Postgres is cut after the server
committed but before the service heard so (the COMMIT's answer is lost), and the client goes
away before reading the response.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from service.adapters.embedder import Embedder
from service.settings import Settings
from tests.conftest import LiveServer, create_api_key, run_sql
from tests.conftest import start_server as start_live_server
from tests.pg_proxy import CommitCuttingProxy


@pytest.fixture(scope="module")
def proxy(migrated_dsn: str) -> Iterator[CommitCuttingProxy]:
    cutter = CommitCuttingProxy(migrated_dsn)
    yield cutter
    cutter.close()


@pytest.fixture(scope="module")
def proxied_server(
    proxy: CommitCuttingProxy, test_settings: Settings, embedder: Embedder
) -> Iterator[LiveServer]:
    # No purge during the test: its COMMITs are not the ones watched.
    settings = replace(test_settings, database_url=proxy.dsn, purge_interval_s=3600)
    server = start_live_server(settings, proxy.dsn, embedder)
    yield server
    server.stop()


def _stored(dsn: str, text: str) -> int:
    return len(run_sql(dsn, "SELECT id FROM memories WHERE content = $1", text))


def test_an_add_whose_commit_answer_was_lost_is_answered_and_replayed(
    proxy: CommitCuttingProxy, proxied_server: LiveServer, migrated_dsn: str
) -> None:
    key = create_api_key(migrated_dsn, f"lost-commit-{uuid.uuid4().hex[:8]}")
    text = f"Stored while its answer was lost {uuid.uuid4()}"
    body = {"text": text, "user_id": "lost-commit", "infer": False}
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())}
    url = f"{proxied_server.base_url}/v1/memories"
    proxy.cut_next_commit_after(b"INSERT INTO memories")

    first = httpx.post(url, json=body, headers=headers, timeout=30)

    assert proxy.cut.is_set(), "no COMMIT was cut: the test proved nothing"
    assert first.status_code == 201, first.text
    assert first.json()["results"][0]["event"] == "ADD"
    retried = httpx.post(url, json=body, headers=headers, timeout=30)
    assert retried.status_code == 201, retried.text
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json() == first.json()
    assert _stored(migrated_dsn, text) == 1


def test_a_write_whose_commit_answer_was_lost_without_a_key_is_answered_too(
    proxy: CommitCuttingProxy, proxied_server: LiveServer, migrated_dsn: str
) -> None:
    key = create_api_key(migrated_dsn, f"lost-commit-{uuid.uuid4().hex[:8]}")
    text = f"Stored without a key while its answer was lost {uuid.uuid4()}"
    proxy.cut_next_commit_after(b"INSERT INTO memories")

    answer = httpx.post(
        f"{proxied_server.base_url}/v1/memories/batch",
        json={"items": [{"text": text, "user_id": "lost-commit"}]},
        headers={"X-API-Key": key},
        timeout=30,
    )

    assert proxy.cut.is_set()
    assert answer.status_code == 201, answer.text
    assert [r["event"] for r in answer.json()["results"]] == ["ADD"]
    assert _stored(migrated_dsn, text) == 1


def test_a_client_gone_before_its_answer_gets_the_original_answer_on_retry(
    live_server: LiveServer, api_key: str
) -> None:
    text = f"Sent by a client that did not wait {uuid.uuid4()}"
    body = json.dumps({"text": text, "user_id": "gone", "infer": False}).encode()
    idempotency_key = str(uuid.uuid4())
    host, port = live_server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as gone:
        gone.sendall(
            b"POST /v1/memories HTTP/1.1\r\nHost: memory\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {api_key}\r\nIdempotency-Key: {idempotency_key}\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
    deadline = time.monotonic() + 10
    while _stored(live_server.dsn, text) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)

    retried = httpx.post(
        f"{live_server.base_url}/v1/memories",
        content=body,
        headers={
            "Authorization": f"Bearer {api_key}",
            "Idempotency-Key": idempotency_key,
            "Content-Type": "application/json",
        },
    )
    while retried.status_code == 409 and time.monotonic() < deadline:  # still finishing
        time.sleep(float(retried.headers["retry-after"]) / 5)
        retried = httpx.post(retried.request.url, content=body, headers=retried.request.headers)

    assert retried.status_code == 201, retried.text
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json()["results"][0]["event"] == "ADD"
    assert _stored(live_server.dsn, text) == 1
