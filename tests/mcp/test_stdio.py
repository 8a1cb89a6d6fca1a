"""`memory-service mcp` over stdio, launched exactly as docs/mcp.md's Claude Desktop
configuration says, with the official Python client's stdio transport."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import LiveServer, create_api_key
from tests.mcp.scenario import answer, run_scenario

ROOT = Path(__file__).parents[2]
MARKER = "<!-- checked: tests/mcp/test_stdio.py launches this configuration as written -->"
COMMAND = str(Path(sys.executable).parent / "memory-service")


def claude_desktop_configuration() -> dict[str, Any]:
    """The memory server's entry of the documented claude_desktop_config.json."""
    after = (ROOT / "docs" / "mcp.md").read_text().split(MARKER, 1)[1]
    block = re.search(r"```json\n(.*?)```", after, re.DOTALL)
    assert block is not None
    entry: dict[str, Any] = json.loads(block.group(1))["mcpServers"]["memory"]
    return entry


def _private_environment(pg_dsn: str) -> dict[str, str]:
    """Where the launched server keeps its data: the test session's embedded Postgres (in its
    data directory's parent) and ONNX export, never ~/.local/share."""
    socket_dir = re.search(r"host=([^&]+)", pg_dsn)
    assert socket_dir is not None
    return {
        "MEMORY_DATA_DIR": str(Path(socket_dir.group(1)).parent),
        "MEMORY_MODEL_CACHE_DIR": os.environ["MEMORY_MODEL_CACHE_DIR"],
    }


def test_the_claude_desktop_configuration_serves_the_scenario(
    live_server: LiveServer, tmp_path: Path
) -> None:
    entry = claude_desktop_configuration()
    assert entry["command"] == "/path/to/memory-service/.venv/bin/memory-service"
    key = create_api_key(live_server.dsn, f"mcp-stdio-{uuid.uuid4().hex[:8]}")
    env = {**entry["env"], "MEMORY_API_KEY": key, **_private_environment(live_server.dsn)}
    launch = StdioServerParameters(command=COMMAND, args=entry["args"], env=env)
    not_protocol: list[Exception] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):  # a line on stdout that is not a JSON-RPC message
            not_protocol.append(message)

    async def scenario() -> None:
        with (tmp_path / "stderr.log").open("w") as stderr:
            async with Client(
                stdio_client(launch, errlog=stderr), message_handler=on_message
            ) as mcp:
                await run_scenario(mcp, "me", pinned=True)
                mine = await answer(mcp, "add_memory", {"text": "I keep bees", "infer": False})
                assert mine["results"][0]["memory"]["user_id"] == "me"  # --user-id me pins it

    asyncio.run(scenario())

    assert not_protocol == []
    logged = (tmp_path / "stderr.log").read_text()
    assert "mcp.tool" in logged  # the logs went to stderr
    assert key not in logged
    assert "peanuts" not in logged and "bees" not in logged  # no user text in any log line


def test_a_wrong_key_or_an_unknown_tenant_serves_nothing(live_server: LiveServer) -> None:
    entry = claude_desktop_configuration()
    base = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"]}
    base |= _private_environment(live_server.dsn)
    launches = {  # both at once: each loads the model before it can say no
        "--api-key (or MEMORY_API_KEY): unknown or revoked API key": {"MEMORY_API_KEY": "msk_no"},
        "no tenant named 'nobody'; create it with `memory-service keys create --tenant nobody`": {
            "MEMORY_TENANT": "nobody"
        },
    }
    processes = {
        message: subprocess.Popen(
            [COMMAND, *entry["args"]],
            env=base | env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for message, env in launches.items()
    }

    for message, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, stderr
        assert stdout == ""
        assert stderr.strip().endswith(f"memory-service: {message}")
