"""Input built to break parsers answers 4xx, in both dialects: deep JSON, huge queries,
bodies of the wrong kind, fields and parameters that do not exist (issue 15, §4 and §5)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import msgspec
import pytest
from litestar.routes import HTTPRoute

from service.adapters.embedder import Embedder
from service.app import create_app
from service.composition import build_services
from service.domain.json_depth import MAX_JSON_DEPTH, json_depth
from service.settings import Settings
from tests.conftest import LiveServer, add_text

JSON = {"content-type": "application/json"}
ZERO_ID = "00000000-0000-0000-0000-000000000000"


def _nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels - 1):
        value = {"k": [value]} if isinstance(value, str) else {"k": value}
    return value


def _deep_text(levels: int) -> str:
    return "[" * levels + "]" * levels


def assert_problem(response: httpx.Response, status: int, detail_part: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail_part in response.json()["detail"], response.json()["detail"]


def test_depth_is_measured_without_parsing() -> None:
    assert json_depth(b'{"a": [1, {"b": "]]]}}[[[\\"[["}]}') == 3
    assert json_depth(b"[" * 100_000) == 100_000
    assert json_depth(json.dumps(_nested(MAX_JSON_DEPTH)).encode()) == MAX_JSON_DEPTH


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/memories", {"text": "deep", "user_id": "deep", "metadata": {"k": "DEEP"}}),
        ("/v1/memories/batch", {"items": [{"text": "x", "user_id": "d", "metadata": "DEEP"}]}),
        ("/v1/search", {"query": "q", "user_id": "deep", "filters": {"k": {"eq": "DEEP"}}}),
        ("/v1/memories/", {"messages": [{"role": "user", "content": "x"}], "metadata": "DEEP"}),
        ("/v2/memories/search/", {"query": "q", "filters": {"user_id": "d", "k": "DEEP"}}),
        ("/v1/feedback/", {"memory_id": ZERO_ID, "feedback": "DEEP"}),
    ],
)
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_json_nested_too_deep_is_refused_with_400(
    client: httpx.Client, path: str, body: dict[str, Any], levels: int
) -> None:
    raw = json.dumps(body).replace('"DEEP"', _deep_text(levels))

    response = client.post(path, content=raw, headers=JSON)

    assert_problem(response, 400, f"more than {MAX_JSON_DEPTH} levels deep")


def test_a_body_of_brackets_only_is_refused_with_400(client: httpx.Client) -> None:
    assert_problem(client.post("/v1/memories", content=b"[" * 100_000, headers=JSON), 400, "32")
    assert_problem(client.put("/v1/batch/", content=b"{" * 100_000, headers=JSON), 400, "32")


def test_metadata_nested_to_the_limit_is_stored(client: httpx.Client) -> None:
    # The body is one level, metadata another: the metadata value may nest the rest.
    metadata = {"k": _nested(MAX_JSON_DEPTH - 2)}
    memory = add_text(client, "Nested to the limit", user_id="deep-ok", metadata=metadata)

    assert memory["metadata"] == metadata


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 1000, 3000])  # URLs stop at 64 KiB
def test_a_filters_query_parameter_nested_too_deep_is_refused_with_400(
    client: httpx.Client, levels: int
) -> None:
    deep = '{"NOT":' * levels + '{"k": 1}' + "}" * levels
    for filters in (deep, _deep_text(levels)):
        response = client.get("/v1/memories", params={"user_id": "u", "filters": filters})
        assert_problem(response, 400, "'filters' nests")


@pytest.mark.parametrize(
    "query",
    [
        "x" * 100_000,
        " ".join(f"word{n}" for n in range(15_000))[:100_000],
        ("What happened on May 3, 2023 or 2023-05-04 " * 3_000)[:100_000],
    ],
    ids=["one-word", "distinct-words", "thousands-of-dates"],
)
def test_a_100_kb_query_answers_promptly_in_both_dialects(client: httpx.Client, query: str) -> None:
    add_text(client, "What happened on May 3, 2023: Alice moved", user_id="long-q")
    for mode in ("hybrid", "keyword", "vector"):
        started = time.monotonic()
        response = client.post(
            "/v1/search", json={"query": query, "user_id": "long-q", "mode": mode}
        )
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 3, mode
    started = time.monotonic()
    mem0 = client.post("/v2/memories/search/", json={"query": query, "filters": {"user_id": "x"}})
    assert mem0.status_code == 200, mem0.text
    assert time.monotonic() - started < 3


# --- §5: every Mem0 route answers 4xx to a bad body ---------------------------------------

MEM0_BODY_ROUTES = [
    ("POST", "/v1/memories/", {"messages": 5}),
    ("POST", "/v3/memories/add/", {"messages": [{"role": "user", "content": 5}]}),
    ("POST", "/v1/memories/search/", {"query": 5}),
    ("POST", "/v2/memories/search/", {"query": "q", "top_k": "many"}),
    ("POST", "/v3/memories/search/", {"query": "q", "filters": []}),
    ("POST", "/v2/memories/", {"filters": 5}),
    ("POST", "/v3/memories/", {"top_k": "all"}),
    ("PUT", f"/v1/memories/{ZERO_ID}/", {"text": 5}),
    ("PUT", "/v1/batch/", {"memories": "x"}),
    ("DELETE", "/v1/batch/", {"memories": "x"}),
    ("PUT", "/v1/batch/", {"memories": [{"memory_id": ZERO_ID}] * 1001}),
    ("DELETE", "/v1/batch/", {"memories": [{"memory_id": ZERO_ID}] * 1001}),
    ("POST", "/v1/feedback/", {"memory_id": 5}),
]
BAD_BODIES = {
    "empty": b"",
    "array": b"[]",
    "string": b'"text"',
    "number": b"5",
    "null": b"null",
    "invalid": b'{"memories": [',
    "not-utf8": b'{"query": "\xff\xfe"}',
    "unknown-field": b'{"no_such_field": 1}',
}


@pytest.mark.parametrize(("method", "path", "wrong_types"), MEM0_BODY_ROUTES)
def test_every_mem0_route_answers_a_bad_body_with_4xx(
    client: httpx.Client,
    live_server: LiveServer,
    method: str,
    path: str,
    wrong_types: dict[str, Any],
) -> None:
    bodies = {**BAD_BODIES, "wrong-types": json.dumps(wrong_types).encode()}
    for name, body in bodies.items():
        response = client.request(method, path, content=body, headers=JSON)
        assert response.status_code == 400, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    oversize = b'{"query": "' + b"x" * (live_server.settings.max_body_bytes + 1) + b'"}'
    assert_problem(client.request(method, path, content=oversize, headers=JSON), 413, "bytes")


def test_no_body_field_shares_a_name_with_a_dependency() -> None:
    """Litestar reports a body error on a field named like a dependency as a failed
    dependency: 500 (``memories`` in the Mem0 batch bodies did)."""
    app = create_app(build_services(Settings(), "postgresql://unused", Embedder("unused")))
    clashes = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, _ in route.route_handler_map.values():
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None:
                continue
            fields = {f.encode_name for f in msgspec.structs.fields(data.annotation)}
            if shared := fields & set(handler.resolve_dependencies()):
                clashes.append((route.path, sorted(shared)))
    assert clashes == []


# --- §6: content types and query parameters ------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "a"],
)
def test_a_json_endpoint_refuses_other_content_types_with_415(
    client: httpx.Client, content_type: str
) -> None:
    body = json.dumps({"text": "Typed wrong", "user_id": "ctype", "infer": False})
    for path in ("/v1/memories", "/v1/memories/"):
        response = client.post(path, content=body, headers={"content-type": content_type})
        assert_problem(response, 415, "-H 'Content-Type: application/json'")
    assert client.get("/v1/memories", params={"user_id": "ctype"}).json()["memories"] == []


@pytest.mark.parametrize("headers", [{}, JSON, {"content-type": "application/json; charset=utf-8"}])
def test_json_is_accepted_when_declared_or_undeclared(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    body = json.dumps({"text": "Declared or not", "user_id": "ctype-ok", "infer": False})

    response = client.post("/v1/memories", content=body, headers=headers)

    assert response.status_code == 201, response.text


def test_an_import_refuses_a_json_content_type(client: httpx.Client) -> None:
    response = client.post("/v1/memories/import", content=b'{"format": "x"}\n', headers=JSON)
    assert_problem(response, 415, "application/x-ndjson")


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/v1/memories", {"user": "alice"}),
        ("DELETE", "/v1/memories", {"user_id": "alice", "agentid": "x"}),
        ("GET", f"/v1/memories/{ZERO_ID}", {"verbose": "1"}),
        ("POST", "/v1/search", {"limit": "3"}),
        ("GET", "/v1/entities/", {"page": "1"}),
        ("DELETE", "/v1/memories/", {"user": "alice"}),
    ],
)
def test_unknown_query_parameters_are_refused_with_400(
    client: httpx.Client, method: str, path: str, params: dict[str, str]
) -> None:
    add_text(client, "Alice keeps this", user_id="alice")

    response = client.request(method, path, params=params, json={"query": "q", "user_id": "a"})

    assert_problem(response, 400, "unknown query parameter")
    assert client.get("/v1/memories", params={"user_id": "alice"}).json()["memories"]


def test_the_query_parameters_mem0_sdks_send_are_accepted(client: httpx.Client) -> None:
    sdk = {"org_id": "org", "project_id": "project"}
    memory = add_text(client, "Kept through SDK parameters", user_id="sdk-params")

    assert client.get(f"/v1/memories/{memory['id']}/", params=sdk).status_code == 200
    assert client.get(f"/v1/memories/{memory['id']}/history/", params=sdk).status_code == 200
    assert client.get("/v1/entities/", params=sdk).status_code == 200
    listed = client.post("/v3/memories/", params={"page": 1, "page_size": 5, **sdk}, json={})
    assert listed.status_code == 200, listed.text
    deleted = client.delete(f"/v1/memories/{memory['id']}/", params={"delete_linked": "true"})
    assert deleted.status_code == 200, deleted.text
    assert client.delete("/v1/memories/", params={"user_id": "sdk-params", **sdk}).is_success
