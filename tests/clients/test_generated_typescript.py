"""A TypeScript client generated from the committed openapi.yaml drives the live service.

openapi-typescript turns openapi.yaml into types (a build artefact, generated into a
temporary directory); the scenario in typescript/scenario.ts uses them through openapi-fetch,
is type-checked by tsc in strict mode, then runs under node against the live server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import LiveServer, create_api_key, run_sql

OPENAPI = Path(__file__).parents[2] / "openapi.yaml"
SCENARIO = Path(__file__).parent / "typescript"


def _run(command: list[str | Path], cwd: Path, **env: str) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "npm_config_update_notifier": "false", **env},
    )
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result.stdout


def test_generated_typescript_client_runs_the_scenario(
    tmp_path: Path, live_server: LiveServer
) -> None:
    npm, npx, node = (shutil.which(tool) for tool in ("npm", "npx", "node"))
    assert npm and npx and node, "the TypeScript client test needs node and npm on PATH"
    for name in ("package.json", "package-lock.json", "tsconfig.json", "scenario.ts"):
        shutil.copy(SCENARIO / name, tmp_path / name)
    _run([npm, "ci", "--no-audit", "--no-fund"], tmp_path)
    # Without --default-non-nullable=false, fields with a default would be required in bodies.
    _run(
        [npx, "openapi-typescript", OPENAPI, "-o", "schema.d.ts", "--default-non-nullable=false"],
        tmp_path,
    )
    _run([npx, "tsc", "-p", "."], tmp_path)

    key = create_api_key(live_server.dsn, "generated-typescript")
    output = _run([node, "dist/scenario.js"], tmp_path, BASE_URL=live_server.base_url, API_KEY=key)
    seen: dict[str, Any] = json.loads(output.strip().splitlines()[-1])

    assert seen["searchIds"] == [seen["allergyId"]]  # the filter kept only the health memory
    assert seen["updatedText"] == "Tom is allergic to shellfish and walnuts"
    assert seen["historyEvents"] == ["ADD", "UPDATE"]
    header, *context_lines = seen["contextLines"]
    assert header.startswith("Relevant memories") and len(context_lines) == 2
    assert context_lines[0].endswith("] Tom is allergic to shellfish and walnuts")
    assert seen["contextIds"][0] == seen["allergyId"]
    assert 0 < seen["contextTokens"] <= 100 and seen["contextTokenizer"] == "cl100k_base"
    assert seen["contextQuery"] == "Something Tom can eat safely"  # the user's turn only
    assert seen["tinyContext"] == "" and seen["tinyOmitted"] == 2  # both found, neither fits
    assert seen["deleteStatus"] == 204
    assert seen["errorStatus"] == seen["problemStatus"] == 404
    assert seen["errorContentType"] == "application/problem+json"
    assert seen["allergyId"] in seen["problemDetail"]
    rows = run_sql(
        live_server.dsn,
        "SELECT content FROM memories m JOIN tenants t ON t.id = m.tenant_id "
        "WHERE t.name = 'generated-typescript'",
    )
    assert [row["content"] for row in rows] == ["Tom plays the cello"]
