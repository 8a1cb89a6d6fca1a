"""The MCP Inspector's CLI mode (@modelcontextprotocol/inspector, npm; it runs offline) lists
the tools of /mcp and finds their schemas portable (--strict: no error-severity problem)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from tests.clients.test_generated_typescript import _run
from tests.conftest import LiveServer, create_api_key
from tests.mcp.conftest import node_project
from tests.mcp.scenario import TOOL_NAMES


def test_the_inspector_lists_the_tools(
    tmp_path: Path, live_server: LiveServer, node_modules: Path
) -> None:
    node = shutil.which("node")
    assert node
    node_project(tmp_path, node_modules)
    key = create_api_key(live_server.dsn, f"mcp-inspector-{uuid.uuid4().hex[:8]}")

    output = _run(
        [
            node,
            "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
            "--cli",
            f"{live_server.base_url}/mcp",
            "--transport",
            "http",
            "--header",
            f"Authorization: Bearer {key}",
            "--method",
            "tools/list",
            "--strict",
        ],
        tmp_path,
    )

    tools = json.loads(output)["tools"]
    assert {tool["name"] for tool in tools} == TOOL_NAMES
    assert all(tool["description"] and tool["inputSchema"]["properties"] for tool in tools)
