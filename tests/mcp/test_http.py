"""/mcp over Streamable HTTP with the official Python client, against the live service: the
scenario, the keys, tenant isolation, pinned scopes, and hostile input."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from service.adapters.embedder import Embedder
from service.settings import Settings
from tests.conftest import LiveServer, create_api_key, start_server
from tests.mcp.scenario import TOOL_NAMES, answer, http_client, refusal, run_scenario

ACCEPT = {"Accept": "application/json, text/event-stream"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _rpc(tool: str, arguments: Any, id_: int = 1) -> dict[str, Any]:
    params = {"name": tool, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params}


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # the 2026-07-28 protocol; the handshake
def test_the_python_client_runs_the_scenario(
    live_server: LiveServer, api_key: str, client: httpx.Client, mode: str
) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"

    async def scenario() -> dict[str, str]:
        async with http_client(f"{live_server.base_url}/mcp", _bearer(api_key), mode) as mcp:
            return await run_scenario(mcp, user)

    kept = asyncio.run(scenario())

    # What the tools did is what REST sees.
    assert client.get(f"/v1/memories/{kept['kept']}").json()["text"] == (
        "Alice is allergic to peanuts and walnuts"
    )
    assert client.get(f"/v1/memories/{kept['deleted']}").status_code == 404
    events = client.get(f"/v1/memories/{kept['kept']}/history").json()["events"]
    assert [event["event"] for event in events] == ["ADD", "UPDATE"]


def test_tool_errors_carry_the_rest_problems_messages(
    live_server: LiveServer, api_key: str, client: httpx.Client
) -> None:
    unknown = uuid.uuid4()
    rest = {
        "get_memory": client.get(f"/v1/memories/{unknown}"),
        "add_memory": client.post("/v1/memories", json={"text": "x\x00", "user_id": "u"}),
        "list_memories": client.get("/v1/memories", params={"user_id": "u", "cursor": "forged"}),
        "search_memories": client.post("/v1/search", json={"query": 5, "user_id": "u"}),
    }
    arguments: dict[str, dict[str, Any]] = {
        "get_memory": {"memory_id": str(unknown)},
        "add_memory": {"text": "x\x00", "user_id": "u"},
        "list_memories": {"user_id": "u", "cursor": "forged"},
        "search_memories": {"query": 5, "user_id": "u"},
    }

    async def refusals() -> dict[str, str]:
        async with http_client(f"{live_server.base_url}/mcp", _bearer(api_key)) as mcp:
            return {tool: await refusal(mcp, tool, arguments[tool]) for tool in arguments}

    seen = asyncio.run(refusals())

    for tool in ("get_memory", "add_memory", "list_memories"):
        assert seen[tool] == rest[tool].json()["detail"], tool
    # A wire-shape error names the argument as REST names the body field.
    [field] = rest["search_memories"].json()["errors"]
    assert seen["search_memories"] == f"Invalid arguments ({field['key']}): {field['message']}"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer msk_unknown"}])
def test_a_missing_or_unknown_key_opens_no_session(
    live_server: LiveServer, headers: dict[str, str]
) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    response = httpx.post(
        f"{live_server.base_url}/mcp", json=initialize, headers={**ACCEPT, **headers}
    )

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="memory-service"'
    assert "mcp-session-id" not in response.headers
    rest = httpx.get(f"{live_server.base_url}/v1/memories?user_id=u", headers=headers)
    assert response.json()["detail"] == rest.json()["detail"]

    async def connect() -> None:
        async with http_client(f"{live_server.base_url}/mcp", headers):
            pass

    with pytest.raises(BaseException) as refused:
        asyncio.run(connect())
    # The Python client reports a refused HTTP request as a JSON-RPC internal error.
    assert [type(error) for error in _leaves(refused.value)] == [MCPError]


def test_another_tenant_sees_nothing(live_server: LiveServer, api_key: str) -> None:
    other_key = create_api_key(live_server.dsn, f"other-{uuid.uuid4().hex[:8]}")
    url = f"{live_server.base_url}/mcp"

    async def scenario() -> None:
        async with http_client(url, _bearer(api_key)) as mine:
            added = await answer(
                mine, "add_memory", {"text": "Bob hides the key under the mat", "user_id": "bob"}
            )
            memory_id = added["results"][0]["memory"]["id"]
        async with http_client(url, {"X-API-Key": other_key}) as theirs:
            found = await answer(
                theirs, "search_memories", {"query": "where is the key?", "user_id": "bob"}
            )
            assert found["results"] == []
            listed = await answer(theirs, "list_memories", {"user_id": "bob"})
            assert listed == {"memories": [], "next_cursor": None}
            context = await answer(
                theirs, "get_context", {"query": "where is the key?", "user_id": "bob"}
            )
            assert (context["context"], context["memories"]) == ("", [])
            not_found = f"no memory with id {memory_id} exists for this API key"
            for tool, extra in (
                ("get_memory", {}),
                ("update_memory", {"text": "moved"}),
                ("delete_memory", {}),
            ):
                assert await refusal(theirs, tool, {"memory_id": memory_id, **extra}) == not_found
        async with http_client(url, _bearer(api_key)) as mine:
            kept = await answer(mine, "get_memory", {"memory_id": memory_id})
            assert kept["text"] == "Bob hides the key under the mat"

    asyncio.run(scenario())


@pytest.mark.parametrize("pin", ["url", "header"])
def test_a_pinned_user_is_the_default_and_a_fence(
    live_server: LiveServer, api_key: str, pin: str
) -> None:
    pinned, other = f"pinned-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    url, headers = f"{live_server.base_url}/mcp", _bearer(api_key)
    if pin == "url":
        pinned_url, pinned_headers = f"{url}?user_id={pinned}", headers
    else:
        pinned_url, pinned_headers = url, {**headers, "X-Memory-User-Id": pinned}

    async def scenario() -> None:
        async with http_client(url, headers) as free:  # the same key, not pinned
            added = await answer(
                free, "add_memory", {"text": "Carol sings in a choir", "user_id": other}
            )
            outside = added["results"][0]["memory"]["id"]
        async with http_client(pinned_url, pinned_headers) as mcp:
            mine = await answer(
                mcp, "add_memory", {"text": "I take the train to work", "run_id": "r1"}
            )
            assert (
                mine["results"][0]["memory"]["user_id"],
                mine["results"][0]["memory"]["run_id"],
            ) == (pinned, "r1")
            listed = await answer(mcp, "list_memories", {})
            assert [m["user_id"] for m in listed["memories"]] == [pinned]
            same = await answer(mcp, "search_memories", {"query": "commute", "user_id": pinned})
            assert len(same["results"]) == 1
            assert await refusal(mcp, "search_memories", {"query": "choir", "user_id": other}) == (
                f"this connection is pinned to user_id {pinned!r}; leave user_id out or give that "
                f"value ({other!r} is outside the pinned scope)"
            )
            not_found = f"no memory with id {outside} exists for this API key"
            for tool, extra in (
                ("get_memory", {}),
                ("update_memory", {"text": "x"}),
                ("delete_memory", {}),
            ):
                assert await refusal(mcp, tool, {"memory_id": outside, **extra}) == not_found

    asyncio.run(scenario())


def test_an_idempotency_key_reused_under_another_pin_is_not_replayed(
    live_server: LiveServer, api_key: str
) -> None:
    """The pin changes what a call does: replaying one user's answer to a call pinned to
    another would cross the fence."""
    url = f"{live_server.base_url}/mcp"
    alice, bob = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    key = f"pin-{uuid.uuid4().hex}"
    headers = {**ACCEPT, **_bearer(api_key), "Idempotency-Key": key}
    add = _rpc("add_memory", {"text": "Alice keeps bees"})
    assert (
        httpx.post(url, json=add, headers={**headers, "X-Memory-User-Id": alice}).status_code == 200
    )

    again = httpx.post(url, json=add, headers={**headers, "X-Memory-User-Id": alice})
    other = httpx.post(url, json=add, headers={**headers, "X-Memory-User-Id": bob})

    assert again.headers.get("idempotent-replayed") == "true"
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert "was already used with a different request" in other.json()["detail"]
    listed = httpx.post(
        url,
        json=_rpc("list_memories", {}),
        headers={**ACCEPT, **_bearer(api_key), "X-Memory-User-Id": bob},
    )
    assert "Alice keeps bees" not in listed.text


@pytest.mark.parametrize(
    ("path", "headers", "status", "detail"),
    [
        (
            "/mcp?user_id=a",
            {"X-Memory-User-Id": "b"},
            400,
            "user_id is pinned twice with different values (header and/or URL); pin it once",
        ),
        (
            "/mcp?userid=a",
            {},
            400,
            "unknown query parameter 'userid'; /mcp takes: user_id, agent_id, run_id",
        ),
        ("/mcp?user_id=", {}, 422, "user_id must have a visible character"),
        ("/mcp?agent_id=%E2%80%8B", {}, 422, "agent_id must have a visible character"),
        (
            "/mcp?user_id=%20alice",
            {},
            422,
            "the user_id pin has spaces around it; ids are matched exactly: remove them",
        ),
    ],
)
def test_a_pin_that_cannot_be_meant_is_refused_before_any_session(
    live_server: LiveServer,
    api_key: str,
    path: str,
    headers: dict[str, str],
    status: int,
    detail: str,
) -> None:
    response = httpx.post(
        f"{live_server.base_url}{path}",
        json=LIST_TOOLS,
        headers={**ACCEPT, **_bearer(api_key), **headers},
    )

    assert (response.status_code, response.json()["detail"]) == (status, detail)


def test_hostile_protocol_input_is_answered_not_crashed(
    live_server: LiveServer, api_key: str
) -> None:
    url, headers = f"{live_server.base_url}/mcp", {**ACCEPT, **_bearer(api_key)}

    def post(body: Any = None, content: bytes | None = None) -> httpx.Response:
        sent = {**headers, "Content-Type": "application/json"}
        return httpx.post(url, json=body, content=content, headers=sent, timeout=30)

    not_an_object = post(_rpc("search_memories", "query=x"))
    unknown_tool = post(_rpc("drop_tables", {}))
    assert not_an_object.status_code == unknown_tool.status_code == 200
    assert not_an_object.json()["error"]["code"] == unknown_tool.json()["error"]["code"] == -32602
    assert "unknown tool 'drop_tables'" in unknown_tool.json()["error"]["message"]
    assert post(content=b'{"jsonrpc": "2.0", "id": 1, "meth').status_code == 400
    surrogate = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": '
    surrogate += b'"add_memory", "arguments": {"text": "a\\ud800", "user_id": "u"}}}'
    assert post(content=surrogate).status_code == 400  # the SDK's parser refuses it
    too_big = post(_rpc("add_memory", {"text": "x" * 2_000_000, "user_id": "u"}))
    assert too_big.status_code == 413
    # Nesting: the REST API's limit as a tool error; deeper, the SDK's parser refuses the body.
    deep = post(_rpc("add_memory", {"text": "deep", "user_id": "u", "metadata": _nested(40)}))
    assert deep.json()["result"]["content"][0]["text"] == (
        "the arguments object nests arrays and objects more than 32 levels deep; flatten it to "
        "at most 32 levels"
    )
    assert post(_rpc("add_memory", {"text": "deeper", "metadata": _nested(500)})).status_code == 400


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_the_stateless_endpoint_refuses_streams_and_session_ends(
    live_server: LiveServer, api_key: str
) -> None:
    for method in ("GET", "DELETE"):
        response = httpx.request(
            method, f"{live_server.base_url}/mcp", headers={**ACCEPT, **_bearer(api_key)}
        )
        assert response.status_code == 405, method
        assert response.headers["allow"] == "POST"
        assert response.json()["detail"] == (
            "/mcp takes POST only (stateless: no stream, no session to end)"
        )


def test_two_different_keys_and_the_rate_limit_are_refused_as_over_rest(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, api_key: str
) -> None:
    limited = replace(test_settings, rate_limit_per_s=0.01, rate_limit_burst=2)
    server = start_server(limited, migrated_dsn, embedder)
    try:
        url, headers = f"{server.base_url}/mcp", {**ACCEPT, **_bearer(api_key)}
        two_keys = httpx.post(url, json=LIST_TOOLS, headers={**headers, "X-API-Key": "msk_x"})
        assert two_keys.status_code == 400
        answers = [httpx.post(url, json=LIST_TOOLS, headers=headers) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [200, 200, 429]
        assert answers[2].headers["retry-after"] == "100"
        assert answers[2].json()["detail"].startswith("too many requests for this API key")
    finally:
        server.stop()


def test_the_endpoint_answers_with_a_trailing_slash_too(
    live_server: LiveServer, api_key: str
) -> None:
    response = httpx.post(
        f"{live_server.base_url}/mcp/?user_id=alice",
        json=LIST_TOOLS,
        headers={**ACCEPT, **_bearer(api_key)},
    )

    assert response.status_code == 200
    assert {tool["name"] for tool in response.json()["result"]["tools"]} == TOOL_NAMES
