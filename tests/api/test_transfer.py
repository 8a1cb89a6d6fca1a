"""Export a scope as JSON Lines and import it elsewhere: same memories, vectors reused only
when they come from the same vector space (model, weights' precision, document prompt)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import LiveServer, add_text, run_sql

NDJSON = {"content-type": "application/x-ndjson"}


def _export(client: httpx.Client, **scope: str) -> list[dict[str, Any]]:
    response = client.get("/v1/memories/export", params=scope)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def _lines(records: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(record) for record in records).encode()


def _vector(server: LiveServer, tenant_key: str, text: str) -> np.ndarray:
    [row] = run_sql(
        server.dsn,
        "SELECT m.embedding::text AS v FROM memories m JOIN api_keys k ON k.tenant_id = m.tenant_id "
        "WHERE k.key_hash = sha256(convert_to($1, 'UTF8')) AND m.content = $2",
        tenant_key,
        text,
    )
    return np.array(json.loads(row["v"]), dtype=np.float32)


def test_a_scope_moves_to_another_tenant_with_its_vectors(
    live_server: LiveServer, client: httpx.Client, other_client: httpx.Client
) -> None:
    first = add_text(client, "Nora is a nurse in Oslo", user_id="nora", metadata={"job": True})
    add_text(client, "Nora's son is called Emil", user_id="nora", run_id="chat-3")
    add_text(client, "Unrelated user", user_id="other")
    records = _export(client, user_id="nora")

    header, memories = records[0], records[1:]
    assert header["format"] == "memory-service.export/1"
    assert (header["embedding_model"], header["dimensions"]) == ("all-MiniLM-L6-v2", 384)
    assert (header["weights"], header["document_prompt"]) == ("float", "")
    assert sorted(m["text"] for m in memories) == [
        "Nora is a nurse in Oslo",
        "Nora's son is called Emil",
    ]
    assert all(len(m["embedding"]) == 384 for m in memories)

    imported = other_client.post("/v1/memories/import", content=_lines(records), headers=NDJSON)
    assert imported.json() == {
        "imported": 2,
        "already_present": 0,
        "expired": 0,
        "re_embedded": False,
    }
    again = other_client.post("/v1/memories/import", content=_lines(records), headers=NDJSON)
    assert again.json()["already_present"] == 2 and again.json()["imported"] == 0

    moved = other_client.get("/v1/memories", params={"user_id": "nora"}).json()["memories"]
    nurse = next(m for m in moved if m["text"] == "Nora is a nurse in Oslo")
    assert nurse["metadata"] == {"job": True} and nurse["created_at"] == first["created_at"]
    assert nurse["id"] != first["id"]
    hits = other_client.post("/v1/search", json={"query": "What does Nora do?", "user_id": "nora"})
    assert hits.json()["results"][0]["memory"]["text"] == "Nora is a nurse in Oslo"


@pytest.mark.parametrize(
    "space",
    [
        {"embedding_model": "some-other-model", "dimensions": 3},
        {"embedding_model": "all-MiniLM-L6-v2", "dimensions": 384, "weights": "int8"},
        {"embedding_model": "all-MiniLM-L6-v2", "dimensions": 384, "document_prompt": "passage: "},
    ],
    ids=["another model", "int8 weights", "a document prompt"],
)
def test_vectors_of_another_vector_space_are_computed_again(
    live_server: LiveServer, other_client: httpx.Client, space: dict[str, object]
) -> None:
    header = {
        "type": "header",
        "format": "memory-service.export/1",
        "exported_at": datetime.now(UTC).isoformat(),
        **space,
    }
    text = f"Imported from elsewhere {uuid.uuid4().hex}"
    dimensions = int(str(space["dimensions"]))
    embedding = [1.0] + [0.0] * (dimensions - 1)
    record = {"type": "memory", "text": text, "user_id": "elsewhere", "embedding": embedding}
    response = other_client.post(
        "/v1/memories/import", content=_lines([header, record]), headers=NDJSON
    )
    assert response.json()["re_embedded"] is True and response.json()["imported"] == 1
    hits = other_client.post(
        "/v1/search", json={"query": text, "user_id": "elsewhere", "mode": "vector"}
    )
    assert hits.json()["results"][0]["score"] > 0.99  # embedded by this service's model


def test_a_bad_line_imports_nothing_and_says_where(other_client: httpx.Client) -> None:
    header = {
        "format": "memory-service.export/1",
        "embedding_model": "all-MiniLM-L6-v2",
        "dimensions": 384,
        "exported_at": datetime.now(UTC).isoformat(),
    }
    good = {"text": "A fine memory", "user_id": "bad-import"}
    expired = {
        "text": "Gone",
        "user_id": "bad-import",
        "expires_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
    }
    no_scope = {"text": "Whose is this?"}
    response = other_client.post(
        "/v1/memories/import", content=_lines([header, good, expired, no_scope]), headers=NDJSON
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("line 4:")
    assert (
        other_client.get("/v1/memories", params={"user_id": "bad-import"}).json()["memories"] == []
    )
    fixed = other_client.post(
        "/v1/memories/import", content=_lines([header, good, expired]), headers=NDJSON
    )
    assert fixed.json() == {"imported": 1, "already_present": 0, "expired": 1, "re_embedded": True}


def test_an_export_needs_a_scope(client: httpx.Client) -> None:
    response = client.get("/v1/memories/export")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_something_that_is_not_an_export_is_refused(other_client: httpx.Client) -> None:
    """Found by fuzzing: a first line that is not JSON used to answer 500."""
    response = other_client.post(
        "/v1/memories/import", content=b"\xc2\xa2 not json", headers=NDJSON
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("line 1 is not an export header")
