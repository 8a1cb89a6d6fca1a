"""A refused body is told about in its own terms: the field at fault by its path (never
Litestar's parameter name, ``data``), what an object takes when a field is unknown, and plain
words for a missing body or one that is not JSON."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

UUID = "00000000-0000-4000-8000-000000000000"


def problem(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    # What Litestar said of the body: "(body data): ...", or a bare KeyError's "'data'".
    assert "body data" not in body["detail"] and "'data'" not in body["detail"], body["detail"]
    assert all(error.get("key") != "data" for error in body.get("errors") or []), body
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/memories"),
        ("POST", "/v1/memories/batch"),
        ("POST", "/v1/search"),
        ("PATCH", f"/v1/memories/{UUID}"),
        ("POST", "/v1/memories/"),  # the Mem0 dialect
        ("POST", "/v2/memories/search/"),
    ],
)
@pytest.mark.parametrize("content_type", [None, "application/json"])
def test_a_missing_body_is_named_as_such(
    client: httpx.Client, method: str, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    body = problem(client.request(method, path, headers=headers))

    assert body["detail"] == "the request body is empty: send a JSON object"


def test_an_unknown_field_is_named_with_what_the_body_takes(client: httpx.Client) -> None:
    body = problem(client.post("/v1/search", json={"query": "x", "user_id": "u", "topk": 3}))

    assert body["errors"] == [
        {
            "message": "unknown field `topk`; the body takes: query, user_id, agent_id, "
            "run_id, filters, limit, threshold, mode",
            "key": "topk",
            "source": "body",
        }
    ]
    assert body["detail"].startswith("Invalid request (body topk): unknown field `topk`")


@pytest.mark.parametrize(
    ("path", "payload", "key", "takes"),
    [
        (
            "/v1/memories/batch",
            {"items": [{"text": "hi", "user_id": "u"}, {"text": "hi", "colour": "red"}]},
            "items[1].colour",
            "items[1] takes: text, user_id, agent_id, run_id, metadata, expires_at, created_at",
        ),
        (
            "/v1/memories",
            {"messages": [{"role": "user", "content": "hi", "extra": 1}], "user_id": "u"},
            "messages[0].extra",
            "messages[0] takes: role, content, name, timestamp",
        ),
        (
            "/v1/memories/",
            {"messages": [{"role": "user", "content": "hi"}], "user_id": "u", "bogus": 1},
            "bogus",
            "the body takes: user_id, agent_id, run_id",
        ),
    ],
)
def test_a_nested_unknown_field_is_named_by_its_path(
    client: httpx.Client, path: str, payload: dict[str, Any], key: str, takes: str
) -> None:
    [error] = problem(client.post(path, json=payload))["errors"]

    assert error["key"] == key
    assert takes in error["message"]


@pytest.mark.parametrize(
    ("path", "payload", "key"),
    [
        ("/v1/search", {"user_id": "u"}, "query"),
        ("/v1/memories", {"messages": [{"role": "user"}], "user_id": "u"}, "messages[0].content"),
    ],
)
def test_a_missing_field_is_named(
    client: httpx.Client, path: str, payload: dict[str, Any], key: str
) -> None:
    body = problem(client.post(path, json=payload))

    field = key.rsplit(".", 1)[-1]
    assert body["errors"] == [
        {"message": f"missing required field `{field}`", "key": key, "source": "body"}
    ]
    assert body["detail"] == f"Invalid request (body {key}): missing required field `{field}`"


@pytest.mark.parametrize(("payload", "kind"), [("[1]", "array"), ("null", "null"), ("3", "int")])
def test_a_body_that_is_not_an_object_is_told_so(
    client: httpx.Client, payload: str, kind: str
) -> None:
    body = problem(
        client.post("/v1/search", content=payload, headers={"Content-Type": "application/json"})
    )

    assert body["detail"] == f"Invalid request (body): Expected `object`, got `{kind}`"
    assert body["errors"] == [
        {"message": f"Expected `object`, got `{kind}`", "key": None, "source": "body"}
    ]


def test_a_body_that_is_not_json_is_told_so(client: httpx.Client) -> None:
    body = problem(
        client.post(
            "/v1/search", content=b'{"query":', headers={"Content-Type": "application/json"}
        )
    )

    assert body["detail"] == "The request body is not valid JSON: Input data was truncated"


def test_a_wrong_type_keeps_its_field_path(client: httpx.Client) -> None:
    payload = {"items": [{"text": "a", "user_id": "u", "metadata": 3}]}

    [error] = problem(client.post("/v1/memories/batch", json=payload))["errors"]

    assert error == {
        "message": "Expected `object`, got `int`",
        "key": "items[0].metadata",
        "source": "body",
    }


def test_an_unknown_field_name_is_shown_shortened(client: httpx.Client) -> None:
    long_name = "x" * 5000

    [error] = problem(client.post("/v1/search", json={"query": "q", long_name: 1}))["errors"]

    assert error["key"] == "x" * 40
    assert len(error["message"]) < 200
