"""The official MCP TypeScript SDK (@modelcontextprotocol/sdk, npm) runs the scenario against
/mcp under node: node/scenario.ts, type-checked by tsc in strict mode (as
tests/clients/test_generated_typescript.py runs the generated REST client)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from tests.clients.test_generated_typescript import _run
from tests.conftest import LiveServer, create_api_key
from tests.mcp.conftest import node_project
from tests.mcp.scenario import TOOL_NAMES


def test_the_typescript_sdk_runs_the_scenario(
    tmp_path: Path, live_server: LiveServer, node_modules: Path
) -> None:
    node = shutil.which("node")
    assert node
    node_project(tmp_path, node_modules, "tsconfig.json", "scenario.ts")
    _run([node, "node_modules/typescript/bin/tsc", "-p", "."], tmp_path)
    key = create_api_key(live_server.dsn, f"mcp-ts-{uuid.uuid4().hex[:8]}")
    other = create_api_key(live_server.dsn, f"mcp-ts-other-{uuid.uuid4().hex[:8]}")

    output = _run(
        [node, "dist/scenario.js"],
        tmp_path,
        BASE_URL=live_server.base_url,
        API_KEY=key,
        OTHER_API_KEY=other,
    )
    seen: dict[str, Any] = json.loads(output.strip().splitlines()[-1])

    assert set(seen["tools"]) == TOOL_NAMES
    assert seen["undescribed"] == []
    assert seen["foundIds"] == [seen["allergyId"]]
    assert seen["contextText"].splitlines()[1].endswith("Tom is allergic to shellfish")
    assert seen["listedIds"] == [seen["celloId"], seen["allergyId"]]
    assert seen["gotText"] == "Tom is allergic to shellfish"
    assert seen["updatedText"] == "Tom is allergic to shellfish and walnuts"
    assert seen["deleted"] == {"id": seen["celloId"], "deleted": True}
    assert seen["gone"] == f"no memory with id {seen['celloId']} exists for this API key"
    assert seen["badType"] == "Invalid arguments (query): Expected `str`, got `int`"
    assert seen["both"] == "give exactly one of 'text' and 'messages'"
    assert "401" in seen["wrongKey"]
    assert seen["otherResults"] == []
    assert seen["otherGet"] == f"no memory with id {seen['allergyId']} exists for this API key"
