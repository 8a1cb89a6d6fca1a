"""One scenario every MCP client runs (the official Python client over Streamable HTTP and over
stdio; tests/clients/mcp_typescript/scenario.ts does the same with the TypeScript SDK): list the
tools, call each of them, and check the errors a model meets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

TOOL_NAMES = {
    "add_memory",
    "search_memories",
    "get_context",
    "list_memories",
    "get_memory",
    "update_memory",
    "delete_memory",
}


@asynccontextmanager
async def http_client(
    url: str, headers: dict[str, str], mode: str = "auto"
) -> AsyncIterator[Client]:
    """The official client over Streamable HTTP; ``mode`` "legacy" speaks the 2025-11-25
    handshake (as today's desktop clients do), "auto" the newest version the server offers."""
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


async def answer(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    """The structured answer of a call that must succeed."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, (tool, result.content)
    return result.structured_content


async def refusal(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    """The message of a call that must fail as a tool error (not a protocol error)."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, (tool, result.structured_content)
    [content] = result.content
    text: str = content.text  # type: ignore[union-attr]
    return text


async def check_tools_are_described(client: Client) -> None:
    listing = await client.list_tools()
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) == TOOL_NAMES
    for tool in tools.values():
        assert tool.description and len(tool.description) > 30, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
        for name, field in tool.input_schema["properties"].items():
            assert field.get("description"), f"{tool.name}.{name} has no description"


async def run_scenario(client: Client, user: str, pinned: bool = False) -> dict[str, str]:
    """Every tool once, in the order an assistant would use them; the ids of what it kept."""
    await check_tools_are_described(client)
    allergy_id, moved_id = await _check_adding(client, user)
    await _check_reading(client, user, allergy_id, moved_id)
    updated = await answer(
        client,
        "update_memory",
        {"memory_id": allergy_id, "text": "Alice is allergic to peanuts and walnuts"},
    )
    assert updated["text"] == "Alice is allergic to peanuts and walnuts"
    deleted = await answer(client, "delete_memory", {"memory_id": moved_id})
    assert deleted == {"id": moved_id, "deleted": True}
    gone = await refusal(client, "get_memory", {"memory_id": moved_id})
    assert gone == f"no memory with id {moved_id} exists for this API key"
    await check_refusals(client, user, pinned)
    return {"kept": allergy_id, "deleted": moved_id}


async def _check_adding(client: Client, user: str) -> tuple[str, str]:
    """A text and a conversation added; their memories' ids."""
    text = {"text": "Alice is allergic to peanuts", "metadata": {"kind": "health"}}
    added = await answer(client, "add_memory", {**text, "user_id": user, "infer": False})
    allergy = added["results"][0]["memory"]
    assert added["results"][0]["event"] == "ADD"
    assert (allergy["user_id"], allergy["metadata"]) == (user, {"kind": "health"})
    said = [
        {"role": "user", "content": "I moved to Lisbon last spring"},
        {"role": "assistant", "content": "Lisbon is lovely!"},
    ]
    told = await answer(client, "add_memory", {"messages": said, "user_id": user})
    # Without an LLM, what the user said is stored and the assistant's turn is not.
    [moved] = [result["memory"] for result in told["results"]]
    assert moved["text"] == "I moved to Lisbon last spring"
    return allergy["id"], moved["id"]


async def _check_reading(client: Client, user: str, allergy_id: str, moved_id: str) -> None:
    found = await answer(
        client, "search_memories", {"query": "What can't Alice eat?", "user_id": user}
    )
    assert found["results"][0]["memory"]["id"] == allergy_id
    assert 0 < found["results"][0]["score"] <= 1
    filtered = await answer(
        client,
        "search_memories",
        {"query": "Where does she live?", "user_id": user, "filters": {"kind": "health"}},
    )
    assert [hit["memory"]["id"] for hit in filtered["results"]] == [allergy_id]
    context = await client.call_tool(
        "get_context", {"query": "What food is dangerous for Alice?", "user_id": user}
    )
    assert not context.is_error
    block: str = context.content[0].text  # type: ignore[union-attr]
    assert "Alice is allergic to peanuts" in block.splitlines()[1]
    assert context.structured_content["context"] == block
    assert 0 < context.structured_content["tokens"] <= 1000
    first = await answer(client, "list_memories", {"user_id": user, "limit": 1})
    second = await answer(
        client, "list_memories", {"user_id": user, "limit": 1, "cursor": first["next_cursor"]}
    )
    assert [m["id"] for m in first["memories"] + second["memories"]] == [moved_id, allergy_id]
    assert second["next_cursor"] is None
    got = await answer(client, "get_memory", {"memory_id": allergy_id})
    assert got["text"] == "Alice is allergic to peanuts"


# (tool, arguments, the message of the tool error): the REST API's messages for the same input
# (tests/mcp/test_http.py compares them with the REST problems).
def refusals(user: str, pinned: bool = False) -> list[tuple[str, dict[str, Any], str]]:
    """``pinned``: the connection pins ``user`` (its tools then never lack a scope)."""
    unknown = str(uuid.UUID(int=7))
    return _refusals_by_pin(user, unknown)[pinned] + [
        (
            "search_memories",
            {"query": 5, "user_id": user},
            "Invalid arguments (query): Expected `str`, got `int`",
        ),
        (
            "search_memories",
            {"user_id": user},
            "Invalid arguments (query): missing required field `query`",
        ),
        (
            "search_memories",
            {"query": "x", "user_id": user, "topk": 3},
            "Invalid arguments (topk): unknown field `topk`; the arguments take: user_id, agent_id, run_id, query, filters, limit",
        ),
        (
            "search_memories",
            {"query": "x", "user_id": user, "limit": 0},
            "Invalid arguments (limit): Expected `int` >= 1",
        ),
        (
            "search_memories",
            {"query": "x", "user_id": user, "filters": {"kind": {"near": 1}}},
            "unknown operator(s) ['near'] on 'kind'; use one of eq, ne, gt, gte, lt, lte, in, nin, contains",
        ),
        (
            "add_memory",
            {"text": "x", "messages": [], "user_id": user},
            "give exactly one of 'text' and 'messages'",
        ),
        (
            "add_memory",
            {"text": "nul\x00byte", "user_id": user},
            "text holds the NUL character (\\u0000), which cannot be stored",
        ),
        (
            "add_memory",
            {"text": "x" * 8001, "user_id": user},
            "text is 8001 characters long; the limit is 8000",
        ),
        (
            "add_memory",
            {"text": "ok", "user_id": "u" * 256},
            "Invalid arguments (user_id): Expected `str` of length <= 255",
        ),
        ("get_memory", {"memory_id": "not-a-uuid"}, "Invalid arguments (memory_id): Invalid UUID"),
        (
            "get_memory",
            {"memory_id": unknown},
            f"no memory with id {unknown} exists for this API key",
        ),
        (
            "delete_memory",
            {"memory_id": unknown},
            f"no memory with id {unknown} exists for this API key",
        ),
        (
            "list_memories",
            {"user_id": user, "cursor": "forged"},
            "'cursor' is not a cursor this API returned",
        ),
        (
            "get_context",
            {"query": "x", "user_id": user, "max_tokens": 0},
            "Invalid arguments (max_tokens): Expected `int` >= 1",
        ),
    ]


def _refusals_by_pin(user: str, unknown: str) -> dict[bool, list[tuple[str, dict[str, Any], str]]]:
    pinned = f"this connection is pinned to user_id {user!r}; leave user_id out or give that value ('else' is outside the pinned scope)"
    return {
        False: [
            (
                "add_memory",
                {"text": "Alice likes tea"},
                "give at least one of user_id, agent_id, run_id",
            ),
            (
                "update_memory",
                {"memory_id": unknown},
                f"memory {unknown}: give 'text' and/or 'metadata'",
            ),
            ("list_memories", {}, "give at least one of user_id, agent_id, run_id"),
        ],
        True: [("search_memories", {"query": "x", "user_id": "else"}, pinned)],
    }


async def check_refusals(client: Client, user: str, pinned: bool = False) -> None:
    for tool, arguments, message in refusals(user, pinned):
        assert await refusal(client, tool, arguments) == message, (tool, arguments)
