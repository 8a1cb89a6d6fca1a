"""Smaller defects of issue 15 (§6), each with the request that showed it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from service.adapters.embedded_postgres import start_embedded_postgres
from service.domain.rate_limit import RateLimiter
from service.errors import RateLimited
from service.settings import Settings
from tests.conftest import LiveServer, add_text, create_api_key, run_sql

NDJSON = {"content-type": "application/x-ndjson"}
ZERO_ID = "00000000-0000-0000-0000-000000000000"


def _lines(records: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(record) for record in records).encode()


def _export(client: httpx.Client, user_id: str) -> list[dict[str, Any]]:
    response = client.get("/v1/memories/export", params={"user_id": user_id})
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


# --- import: vectors the index can compare ---------------------------------------------------


@pytest.mark.parametrize(
    ("vector_of", "detail"),
    [
        (lambda n: [0.0] * n, "not all zero"),
        (lambda n: [1e38] * n, "float32 can hold"),
        (lambda n: [1e39] + [0.0] * (n - 1), "finite"),
        (lambda n: [1e-30] * n, "not all zero"),
        (lambda n: [0.1] * (n - 1), "does not have"),
    ],
    ids=["zero", "1e38", "overflows-float32", "underflows", "short"],
)
def test_an_import_with_a_vector_the_index_cannot_compare_is_refused(
    client: httpx.Client, other_client: httpx.Client, vector_of: Any, detail: str
) -> None:
    add_text(client, "A memory to export", user_id="vectors")
    header, record = _export(client, "vectors")
    good = {**record, "text": "Imported as exported"}
    bad = {**record, "text": "Imported with a broken vector"}
    bad["embedding"] = vector_of(header["dimensions"])

    response = other_client.post(
        "/v1/memories/import", content=_lines([header, good, bad]), headers=NDJSON
    )

    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("line 3: ")
    assert detail in response.json()["detail"]
    assert other_client.get("/v1/memories", params={"user_id": "vectors"}).json() == {
        "memories": [],
        "next_cursor": None,
    }


def test_an_import_line_nested_too_deep_is_refused_with_400(
    client: httpx.Client, other_client: httpx.Client
) -> None:
    add_text(client, "A memory to export deeply", user_id="deep-import")
    header, record = _export(client, "deep-import")
    line = json.dumps({**record, "metadata": {"k": "DEEP"}}).replace('"DEEP"', "[" * 100_000)

    response = other_client.post(
        "/v1/memories/import", content=_lines([header]) + b"\n" + line.encode(), headers=NDJSON
    )

    assert response.status_code == 400, response.text
    assert "line 2 nests arrays and objects more than 32 levels" in response.json()["detail"]


# --- two API keys ----------------------------------------------------------------------------


def test_two_different_keys_in_one_request_are_refused(live_server: LiveServer) -> None:
    mine = create_api_key(live_server.dsn, f"two-keys-a-{uuid.uuid4().hex[:8]}")
    theirs = create_api_key(live_server.dsn, f"two-keys-b-{uuid.uuid4().hex[:8]}")
    url = f"{live_server.base_url}/v1/memories"
    body = {"text": "Whose memory is this?", "user_id": "two-keys", "infer": False}

    for headers in (
        [("Authorization", f"Bearer {mine}"), ("X-API-Key", theirs)],
        [("X-API-Key", mine), ("X-API-Key", theirs)],
    ):
        refused = httpx.post(url, json=body, headers=headers)
        assert refused.status_code == 400, refused.text
        assert "different API keys" in refused.json()["detail"]
        assert mine not in refused.text and theirs not in refused.text
        keyed = [*headers, ("Idempotency-Key", str(uuid.uuid4()))]
        assert httpx.post(url, json=body, headers=keyed).status_code == 400
    assert run_sql(live_server.dsn, "SELECT id FROM memories WHERE user_id = 'two-keys'") == []

    same = httpx.post(
        url, json=body, headers={"Authorization": f"Bearer {mine}", "X-API-Key": mine}
    )
    assert same.status_code == 201, same.text


# --- texts that show nothing -----------------------------------------------------------------

INVISIBLE = [
    "\u200b\u200b\u200b",  # zero-width spaces
    "\u200c\u200d\u2060\ufeff",  # joiners, word joiner, byte order mark
    "\u00a0\u3000\u2028\t",  # no-break and ideographic spaces, line separator
    "\u202e\u202d\u061c",  # bidi controls
    "\u3164\u115f",  # Hangul fillers
]


@pytest.mark.parametrize("text", INVISIBLE)
def test_a_text_of_invisible_characters_is_refused_everywhere(
    client: httpx.Client, text: str
) -> None:
    stored = add_text(client, "A visible memory", user_id="invisible")
    header, record = _export(client, "invisible")
    attempts = [
        client.post("/v1/memories", json={"text": text, "user_id": "invisible", "infer": False}),
        client.post("/v1/memories/batch", json={"items": [{"text": text, "user_id": "invisible"}]}),
        client.patch(f"/v1/memories/{stored['id']}", json={"text": text}),
        client.post(
            "/v1/memories/import",
            content=_lines([header, {**record, "text": text, "embedding": None}]),
            headers=NDJSON,
        ),
        client.post(
            "/v1/memories/",
            json={"messages": [{"role": "user", "content": text}], "user_id": "invisible"},
        ),
        client.put(f"/v1/memories/{stored['id']}/", json={"text": text}),
        client.put("/v1/batch/", json={"memories": [{"memory_id": stored["id"], "text": text}]}),
    ]

    for response in attempts:
        assert response.status_code == 422, response.text
        assert "no visible character" in response.json()["detail"]
    memories = client.get("/v1/memories", params={"user_id": "invisible"}).json()["memories"]
    assert [m["text"] for m in memories] == ["A visible memory"]


def test_a_text_with_invisible_characters_beside_visible_ones_is_kept(
    client: httpx.Client,
) -> None:
    memory = add_text(client, "\u200bcafé\u200d", user_id="invisible-ok")

    assert memory["text"] == "\u200bcafé\u200d"


# --- what problems say -----------------------------------------------------------------------


def test_the_429_detail_says_the_wait_retry_after_gives() -> None:
    limiter = RateLimiter(per_second=10.0, burst=1, clock=lambda: 0.0)
    limiter.take(b"key")
    with pytest.raises(RateLimited) as refused:
        limiter.take(b"key")

    assert refused.value.retry_after_s == 1
    assert "retry in 1 s" in refused.value.detail
    assert "0.10" not in refused.value.detail


def test_the_default_rate_limit_is_out_of_reach_of_one_sequential_client(
    client: httpx.Client,
) -> None:
    assert Settings().rate_limit_per_s >= 1000 and Settings().rate_limit_burst >= 2000
    # At the earlier default (100/s, bursts of 200) the last of these answered 429.
    statuses = {
        client.get("/v1/memories", params={"user_id": "busy"}).status_code for _ in range(600)
    }
    assert statuses == {200}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/v1/memories/{ZERO_ID}/"),
        ("GET", "/v9/no-such-route/"),
        ("POST", "/v2/memories/search/"),
    ],
)
def test_a_mem0_problem_names_the_path_the_client_called(
    client: httpx.Client, method: str, path: str
) -> None:
    response = client.request(method, path, json={"query": 5})

    assert response.status_code in (400, 404), response.text
    assert response.json()["instance"] == path


def test_mem0_page_links_use_the_path_the_client_called(client: httpx.Client) -> None:
    for n in range(3):
        add_text(client, f"Paged memory number {n}", user_id="paged")

    page = client.post("/v3/memories/", params={"page": 1, "page_size": 2}, json={})

    assert page.status_code == 200, page.text
    assert urlsplit(page.json()["next"]).path == "/v3/memories/"


# --- migrate without the right to create pgvector --------------------------------------------


def test_migrate_by_a_role_that_may_not_create_pgvector_fails_in_one_line(
    tmp_path: Path,
) -> None:
    superuser_dsn = start_embedded_postgres(tmp_path / "pgdata")
    run_sql(superuser_dsn, "CREATE ROLE app_owner LOGIN")
    run_sql(superuser_dsn, "CREATE DATABASE app_db OWNER app_owner")
    parts = urlsplit(superuser_dsn)
    app_dsn = parts._replace(netloc="app_owner@" + parts.netloc.split("@")[-1], path="/app_db")

    result = subprocess.run(
        [sys.executable, "-m", "service", "migrate"],
        env={
            **os.environ,
            "DATABASE_URL": app_dsn.geturl(),
            "MEMORY_LOG_FORMAT": "json",
            "MEMORY_LOG_LEVEL": "warning",  # no "model loaded" line: only what went wrong
        },
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "aborted" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CREATE EXTENSION vector;" in lines[0]
    assert "app_owner" in lines[0] and "app_db" in lines[0]
    assert run_sql(app_dsn.geturl(), "SELECT to_regclass('memories') AS t")[0]["t"] is None
