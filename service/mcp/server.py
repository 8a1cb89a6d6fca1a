"""The MCP server over the memory tools: lists them, decodes a call's arguments, runs the tool
and maps what fails to a tool error (``isError``) carrying the message the REST API's problem
would. Transports (HTTP, stdio) only say who the caller is."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import mcp_types as types
import msgspec
import structlog
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from service.api.field_errors import decoding_error
from service.composition import Services
from service.domain.json_depth import check_json_depth
from service.errors import MalformedRequest, MemoryServiceError
from service.mcp.arguments import input_schema
from service.mcp.caller import Caller
from service.mcp.tools import TOOLS, Tool

log = structlog.get_logger(__name__)

INSTRUCTIONS = (
    "Long-term memory of the user across conversations. Search it (search_memories, or "
    "get_context for a ready-to-use block) before answering what may depend on earlier "
    "conversations; add to it (add_memory) when the user tells you something worth keeping; "
    "correct or forget with update_memory and delete_memory."
)
UNEXPECTED = "An unexpected error occurred; it has been logged with this request id"


@dataclass(frozen=True, slots=True)
class CallContext:
    caller: Caller
    request_id: str | None = None  # HTTP: the request's X-Request-ID, for logs and errors


ContextOf = Callable[[ServerRequestContext[Any, Any]], CallContext]


def build_server(services: Services, context_of: ContextOf) -> Server[Any]:
    """The tools of ``services`` for callers that ``context_of`` names from each request."""
    listing = types.ListToolsResult(tools=[_listed(tool) for tool in TOOLS])
    by_name = {tool.name: tool for tool in TOOLS}
    schemas = {tool.name: tool.input_schema for tool in listing.tools}

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listing

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = by_name.get(params.name)
        if tool is None:  # the spec's answer to an unknown tool: a protocol error
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"unknown tool {params.name[:64]!r}; the tools are: " + ", ".join(by_name),
            )
        context = context_of(ctx)
        with structlog.contextvars.bound_contextvars(request_id=context.request_id):
            return await _call(services, tool, context, params.arguments or {})

    return Server(
        "memory-service",
        version=_version(),
        instructions=INSTRUCTIONS,
        # What the 2026-07-28 transport checks Mcp-Param-* headers against; without it, it
        # would run (and serialise) tools/list for every call.
        get_tool_input_schema=schemas.get,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def _call(
    services: Services, tool: Tool, context: CallContext, arguments: dict[str, Any]
) -> types.CallToolResult:
    started = time.perf_counter()
    outcome = "ok"
    try:
        check_json_depth(_as_json(arguments), "the arguments object")
        _check_finite(arguments)
        decoded = msgspec.convert(arguments, tool.arguments, strict=True)
        answer = await tool.handler(services, context.caller, decoded)
    except msgspec.ValidationError as error:
        outcome = "invalid_arguments"
        return _tool_error(_invalid_arguments(error, tool.arguments))
    except MemoryServiceError as error:
        outcome = type(error).__name__
        return _tool_error(error.detail)
    except Exception as error:
        outcome = "unexpected"
        log.exception("mcp.tool_failed", tool=tool.name, error=type(error).__name__)
        return _tool_error(f"{UNEXPECTED}: {context.request_id or 'none'}.")
    finally:
        # The tool and how it ended: never its arguments, which carry user text.
        log.info(
            "mcp.tool",
            tool=tool.name,
            tenant=context.caller.tenant.name,
            outcome=outcome,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
    return _tool_answer(answer, tool)


def _as_json(arguments: dict[str, Any]) -> bytes:
    """The arguments as a JSON document, to hold them to the REST API's limit on a body's
    nesting. A lone surrogate, which msgspec does not encode, is escaped by json (and then
    refused by name by the domain's checks of every stored text)."""
    try:
        return msgspec.json.encode(arguments)
    except UnicodeEncodeError:
        return json.dumps(arguments).encode()


def _check_finite(value: Any) -> None:
    """JSON has no infinity or NaN; the SDK's parser reads 1e400 as one, and NaN and Infinity
    too. Refused with the REST API's words (its parser refuses them), before Postgres does."""
    if isinstance(value, float) and not math.isfinite(value):
        raise MalformedRequest("The request body is not valid JSON: Number out of range")
    if isinstance(value, dict | list):
        for item in value.values() if isinstance(value, dict) else value:
            _check_finite(item)  # depth already checked: bounded


def _listed(tool: Tool) -> types.Tool:
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=input_schema(tool.arguments),
        annotations=types.ToolAnnotations(
            read_only_hint=tool.read_only,
            destructive_hint=tool.destructive,
            open_world_hint=False,
        ),
    )


def _tool_answer(answer: msgspec.Struct, tool: Tool) -> types.CallToolResult:
    """The answer as text (what a model reads: JSON, unless the tool says otherwise) and as
    structured content (for programs)."""
    structured = msgspec.to_builtins(answer)
    text = tool.text_of(answer) if tool.text_of else msgspec.json.encode(structured).decode()
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=structured
    )


def _tool_error(detail: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=detail)], is_error=True)


def _invalid_arguments(error: msgspec.ValidationError, arguments: type[msgspec.Struct]) -> str:
    """Worded as the REST API words a refused body, with "arguments" for "body"."""
    field_error = decoding_error(error, arguments, "the arguments take")
    where = f" ({field_error.key})" if field_error.key else ""
    return f"Invalid arguments{where}: {field_error.message}"


def _version() -> str:
    try:
        return metadata.version("memory-service")
    except metadata.PackageNotFoundError:
        return "unknown"
