"""What is forgotten stays forgotten: expiry, deleting a scope, deleting a tenant."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import LiveServer, add_text, create_api_key, run_sql, start_server


@pytest.fixture(scope="module")
def purging_server(live_server: LiveServer) -> Iterator[LiveServer]:
    server = start_server(
        replace(live_server.settings, purge_interval_s=0.3), live_server.dsn, live_server.embedder
    )
    yield server
    server.stop()


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def test_an_expired_memory_is_never_returned_and_then_purged(purging_server: LiveServer) -> None:
    key = create_api_key(purging_server.dsn, f"expiry-{uuid.uuid4().hex[:8]}")
    with httpx.Client(base_url=purging_server.base_url, headers={"X-API-Key": key}) as client:
        brief = add_text(
            client, "The parking spot is B12 today", user_id="exp", expires_at=_in(1.5)
        )
        lasting = add_text(client, "The office is on the fourth floor", user_id="exp")
        assert brief["expires_at"] is not None and lasting["expires_at"] is None
        client.patch(f"/v1/memories/{brief['id']}", json={"metadata": {"lot": "B"}})
        search = {"query": "Where do I park?", "user_id": "exp"}
        assert brief["id"] in [
            r["memory"]["id"] for r in client.post("/v1/search", json=search).json()["results"]
        ]

        time.sleep(2.0)
        assert client.get(f"/v1/memories/{brief['id']}").status_code == 404
        assert client.get(f"/v1/memories/{brief['id']}/history").status_code == 404
        hits = client.post("/v1/search", json=search).json()["results"]
        assert [h["memory"]["id"] for h in hits] == [lasting["id"]]
        listed = client.get("/v1/memories", params={"user_id": "exp"}).json()["memories"]
        assert [m["id"] for m in listed] == [lasting["id"]]
        assert client.patch(f"/v1/memories/{brief['id']}", json={"text": "x"}).status_code == 404

        deadline = time.monotonic() + 10
        while run_sql(
            purging_server.dsn, "SELECT 1 FROM memories WHERE id = $1", uuid.UUID(brief["id"])
        ):
            assert time.monotonic() < deadline, "the expired memory was not purged"
            time.sleep(0.2)
        history = run_sql(
            purging_server.dsn,
            "SELECT 1 FROM memory_history WHERE memory_id = $1",
            uuid.UUID(brief["id"]),
        )
        assert history == []
        # The same text may be remembered again.
        again = add_text(client, "The parking spot is B12 today", user_id="exp")
        assert again["id"] != brief["id"]


def test_expiry_must_be_in_the_future_with_a_timezone(client: httpx.Client) -> None:
    past = client.post(
        "/v1/memories",
        json={"text": "old", "user_id": "exp", "infer": False, "expires_at": _in(-60)},
    )
    assert past.status_code == 422 and "future" in past.json()["detail"]
    naive = client.post(
        "/v1/memories",
        json={"text": "old", "user_id": "exp", "infer": False, "expires_at": "2030-01-01T00:00:00"},
    )
    assert naive.status_code == 400


def test_expiry_can_be_changed_and_removed(client: httpx.Client) -> None:
    memory = add_text(client, "Temporary badge 4411", user_id="exp2", expires_at=_in(3600))
    cleared = client.patch(f"/v1/memories/{memory['id']}", json={"expires_at": None}).json()
    assert cleared["expires_at"] is None
    kept = client.patch(f"/v1/memories/{memory['id']}", json={"metadata": {"a": 1}}).json()
    assert kept["expires_at"] is None


def test_deleting_a_scope_forgets_memories_history_feedback_and_jobs(
    llm_server: LiveServer,
) -> None:
    name = f"forget-{uuid.uuid4().hex[:8]}"
    key = create_api_key(llm_server.dsn, name)
    [tenant] = run_sql(llm_server.dsn, "SELECT id FROM tenants WHERE name = $1", name)
    tenant_id = tenant["id"]
    with httpx.Client(base_url=llm_server.base_url, headers={"X-API-Key": key}) as client:
        kept = add_text(client, "Bob likes tea", user_id="bob")
        first = add_text(client, "Zed's passport number is X123", user_id="zed", run_id="r1")
        second = add_text(client, "Zed lives at 5 Elm Street", user_id="zed")
        client.patch(f"/v1/memories/{first['id']}", json={"text": "Zed's passport number is X999"})
        client.delete(f"/v1/memories/{second['id']}")  # history keeps its text until the scope goes
        queued = client.post(
            "/v1/memories",
            json={
                "messages": [{"role": "user", "content": "My PIN is 0000"}],
                "user_id": "zed",
                "async": True,
            },
        )
        assert queued.status_code == 202  # no worker runs on this server: the job waits

        forgotten = client.delete("/v1/memories", params={"user_id": "zed"})
        assert forgotten.json() == {"deleted": 1}
        assert (
            client.post("/v1/search", json={"query": "passport", "user_id": "zed"}).json()[
                "results"
            ]
            == []
        )

    def rows(sql: str) -> list[str]:
        return [str(r[0]) for r in run_sql(llm_server.dsn, sql, tenant_id)]

    assert rows("SELECT id FROM memories WHERE tenant_id = $1") == [kept["id"]]
    texts = rows(
        "SELECT coalesce(old_content, '') || coalesce(new_content, '') FROM memory_history "
        "WHERE tenant_id = $1"
    )
    assert texts == ["Bob likes tea"]
    assert rows("SELECT id FROM ingest_jobs WHERE tenant_id = $1") == []
    assert (
        rows(
            "SELECT scope_key FROM ingested_messages WHERE tenant_id = $1 AND scope_key LIKE '%zed%'"
        )
        == []
    )


def test_deleting_a_tenant_forgets_everything_and_its_keys(live_server: LiveServer) -> None:
    name = f"leaving-{uuid.uuid4().hex[:8]}"
    key = create_api_key(live_server.dsn, name)
    [tenant] = run_sql(live_server.dsn, "SELECT id FROM tenants WHERE name = $1", name)
    with httpx.Client(base_url=live_server.base_url, headers={"X-API-Key": key}) as client:
        memory = add_text(client, "Carol's address is 1 Main St", user_id="carol")
        client.patch(f"/v1/memories/{memory['id']}", json={"metadata": {"k": 1}})
    result = subprocess.run(
        [sys.executable, "-m", "service", "tenants", "delete", name],
        env={"DATABASE_URL": live_server.dsn, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for table in ("memories", "memory_history", "api_keys", "ingest_jobs", "idempotency_keys"):
        assert (
            run_sql(live_server.dsn, f"SELECT 1 FROM {table} WHERE tenant_id = $1", tenant["id"])
            == []
        )
    time.sleep(5.1)  # authentication caches a key for at most 5 s on a replica
    with httpx.Client(base_url=live_server.base_url, headers={"X-API-Key": key}) as client:
        assert (
            client.post("/v1/search", json={"query": "address", "user_id": "carol"}).status_code
            == 401
        )
