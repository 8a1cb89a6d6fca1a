"""Regressions for what an outside tester found after the hardening: each input answers a
clear 4xx, and nothing Postgres cannot hold reaches it (Postgres quotes refused values in its
own log, which must never hold what users said)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import add_text

NDJSON = {"Content-Type": "application/x-ndjson"}


def _problem(response: httpx.Response, status: int, detail_part: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail_part in response.json()["detail"], response.json()["detail"]


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor('{"t": "2020-01-01T00:00:00Z", "id": 5}'),
        _cursor('{"t": 1, "id": "x"}'),
        _cursor("[" * 5000),
        _cursor('"just a string"'),
        "A" * 5000,
    ],
    ids=["number id", "number time", "deep", "string", "long"],
)
def test_a_forged_cursor_is_refused(client: httpx.Client, cursor: str) -> None:
    response = client.get("/v1/memories", params={"user_id": "alice", "cursor": cursor})
    _problem(response, 422, "'cursor' is not a cursor this API returned")


def _postgres_log(pg_dsn: str) -> str:
    """What the session's Postgres has logged (it logs the values it refuses)."""
    log = Path(pg_dsn.split("host=")[1].split("&", maxsplit=1)[0]) / "log"
    return log.read_text(errors="replace")


def test_values_postgres_cannot_hold_are_refused_before_it_sees_them(
    client: httpx.Client, pg_dsn: str
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    bad = canary + "\x00"  # lone surrogates in a body are refused by the JSON decoder
    memory = add_text(client, f"Alice likes tea {uuid.uuid4().hex}")
    requests = [
        ("POST", "/v1/memories", {"text": bad, "user_id": "alice"}, "text holds"),
        (
            "POST",
            "/v1/memories",
            {"text": "x", "user_id": "alice", "metadata": {"k": bad}},
            "metadata.k holds",
        ),
        (
            "POST",
            "/v1/memories",
            {"text": "x", "user_id": "alice", "metadata": {bad: 1}},
            "a key of metadata holds",
        ),
        ("POST", "/v1/memories", {"text": "x", "user_id": bad}, "user_id holds"),
        (
            "PATCH",
            f"/v1/memories/{memory['id']}",
            {"metadata": {"k": [bad]}},
            "metadata.k[0] holds",
        ),
        (
            "POST",
            "/v1/memories/batch",
            {"items": [{"text": "x", "user_id": "a", "metadata": {"k": bad}}]},
            "items[0]",
        ),
        (
            "POST",
            "/v1/memories/",
            {"messages": [{"role": "user", "content": bad}], "user_id": "alice"},
            "text holds",
        ),
        ("PUT", f"/v1/memories/{memory['id']}/", {"text": bad}, "text holds"),
    ]
    for method, path, body, detail in requests:
        response = client.request(
            method, path, content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        _problem(response, 422, detail)
    for character in ("\x00", "\ud800"):  # the query string's JSON parser lets both through
        filters = json.dumps({"k": canary + character})
        listed = client.get("/v1/memories", params={"user_id": "alice", "filters": filters})
        _problem(listed, 422, "no stored text holds")
    assert canary not in _postgres_log(pg_dsn)


def test_an_import_keeps_the_rules_of_an_add(other_client: httpx.Client) -> None:
    header = other_client.get("/v1/memories/export", params={"user_id": "nobody"}).text
    cases: list[tuple[dict[str, Any], str]] = [
        ({"user_id": "x" * 300}, "user_id is longer than 255"),
        ({"user_id": "\u200b\u200b"}, "user_id must have a visible character"),
        ({"user_id": "a", "created_at": "2999-01-01T00:00:00Z"}, "must not be in the future"),
        ({"user_id": "a", "metadata": {"k": "\x00"}}, "metadata.k holds the NUL"),
    ]
    for fields, detail in cases:
        line = json.dumps({"type": "memory", "text": "imported", **fields})
        response = other_client.post(
            "/v1/memories/import", content=f"{header.splitlines()[0]}\n{line}\n", headers=NDJSON
        )
        _problem(response, 422, "line 2: ")
        assert detail in response.json()["detail"]


@pytest.mark.parametrize("scope_id", [" ", "\u200b\u200b", "\ufeff", "\t\n"])
def test_a_scope_id_must_show_something(client: httpx.Client, scope_id: str) -> None:
    response = client.post("/v1/memories", json={"text": "hi", "user_id": scope_id})
    _problem(response, 422, "user_id must have a visible character")


def test_two_idempotency_keys_are_refused(client: httpx.Client) -> None:
    response = client.post(
        "/v1/memories",
        json={"text": f"once {datetime.now(UTC)}", "user_id": "alice", "infer": False},
        headers=[("Idempotency-Key", "one"), ("Idempotency-Key", "two")],
    )
    _problem(response, 400, "one Idempotency-Key")


def test_a_method_a_path_does_not_take_is_told_what_it_takes(client: httpx.Client) -> None:
    for method, path, allowed in (
        ("PUT", "/v1/memories", "GET"),
        ("DELETE", "/v1/search", "POST"),
    ):
        response = client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        detail = response.json()["detail"]
        assert detail.startswith(f"{method} is not allowed at this path; it takes "), detail
        assert allowed in detail, detail


def test_a_single_add_is_not_told_about_a_list_it_did_not_send(client: httpx.Client) -> None:
    past = "2001-01-01T00:00:00+00:00"
    single = client.post(
        "/v1/memories", json={"text": "x", "user_id": "a", "infer": False, "expires_at": past}
    )
    batch = client.post(
        "/v1/memories/batch",
        json={
            "items": [
                {"text": "y", "user_id": "a"},
                {"text": "x", "user_id": "a", "expires_at": past},
            ]
        },
    )
    _problem(single, 422, "expires_at")
    assert not single.json()["detail"].startswith("items[")
    _problem(batch, 422, "items[1]: ")
    # Messages are named as sent, a system message (not remembered) counted too.
    messages = client.post(
        "/v1/memories",
        json={
            "infer": False,
            "user_id": "a",
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "a1"},
                {"role": "user", "content": "a2", "timestamp": "2099-01-01T00:00:00Z"},
            ],
        },
    )
    _problem(messages, 422, "messages[2]: ")
