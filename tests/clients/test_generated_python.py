"""A Python client generated from the committed openapi.yaml drives the live service.

The client is generated into a temporary directory at test time (a build artefact, never
committed) with openapi-python-client, then used as an application would use it.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import LiveServer, create_api_key, run_sql

OPENAPI = Path(__file__).parents[2] / "openapi.yaml"
PACKAGE = "memory_service_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("python-client")
    bin_dir = Path(sys.executable).parent
    # The generator knows no JSON Lines; exports and imports are binary files to it.
    config = out / "config.yaml"
    config.write_text("content_type_overrides:\n  application/x-ndjson: application/octet-stream\n")
    result = subprocess.run(
        [
            bin_dir / "openapi-python-client",
            "generate",
            *("--path", OPENAPI, "--meta", "none", "--output-path", out / PACKAGE),
            *("--config", config),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _operations(tag: str, *names: str) -> dict[str, ModuleType]:
    """The generated module of each operation (one module per operation id)."""
    return {name: importlib.import_module(f"{PACKAGE}.api.{tag}.{name}") for name in names}


def test_generated_python_client_runs_the_scenario(
    generated: ModuleType, live_server: LiveServer
) -> None:
    api = _operations("memories", "add_memory", "update_memory", "get_memory_history")
    api.update(_operations("memories", "delete_memory", "get_memory"))
    api.update(_operations("search", "search_memories"))
    api.update(_operations("context", "build_context"))
    models = importlib.import_module(f"{PACKAGE}.models")
    key = create_api_key(live_server.dsn, "generated-python")
    client = generated.AuthenticatedClient(base_url=live_server.base_url, token=key)

    added = api["add_memory"].sync(
        client=client,
        body=models.AddMemoryRequest(
            text="Alice is allergic to peanuts",
            user_id="alice",
            infer=False,
            metadata=models.Metadata.from_dict({"category": "health"}),
        ),
    )
    assert isinstance(added, models.AddMemoryResponse)
    memory = added.results[0].memory
    other = api["add_memory"].sync(
        client=client,
        body=models.AddMemoryRequest(
            text="Alice likes jazz",
            user_id="alice",
            infer=False,
            metadata=models.Metadata.from_dict({"category": "music"}),
        ),
    )
    assert isinstance(other, models.AddMemoryResponse)

    found = api["search_memories"].sync(
        client=client,
        body=models.SearchRequest(
            query="What can't Alice eat?",
            user_id="alice",
            filters=models.MemoryFilter.from_dict({"category": {"in": ["health", "food"]}}),
        ),
    )
    assert isinstance(found, models.SearchResponse)
    assert [hit.memory.id for hit in found.results] == [memory.id]
    assert found.results[0].memory.metadata.to_dict() == {"category": "health"}

    updated = api["update_memory"].sync(
        memory.id,
        client=client,
        body=models.UpdateMemoryRequest(text="Alice is allergic to peanuts and cashews"),
    )
    assert isinstance(updated, models.MemoryOut)
    assert updated.text == "Alice is allergic to peanuts and cashews"
    history = api["get_memory_history"].sync(memory.id, client=client)
    assert isinstance(history, models.MemoryHistory)
    assert [str(event.event) for event in history.events] == ["ADD", "UPDATE"]

    built = api["build_context"].sync(
        client=client,
        body=models.ContextRequest(query="What can't Alice eat?", user_id="alice", max_tokens=200),
    )
    assert isinstance(built, models.ContextResponse)
    told = memory.created_at.astimezone(UTC).date().isoformat()
    assert built.context.splitlines()[1] == f"- [{told}] Alice is allergic to peanuts and cashews"
    assert built.memories[0].memory.id == memory.id
    assert 0 < built.tokens <= 200 and built.tokenizer == "cl100k_base"
    too_big = api["build_context"].sync(
        client=client, body=models.ContextRequest(query="x", user_id="alice", max_tokens=10**6)
    )
    assert isinstance(too_big, models.Problem)
    assert too_big.status == 400 and "max_tokens" in too_big.detail

    deleted = api["delete_memory"].sync_detailed(memory.id, client=client)
    assert deleted.status_code == 204
    [row] = run_sql(live_server.dsn, "SELECT count(*) AS n FROM memories WHERE id = $1", memory.id)
    assert row["n"] == 0

    # An error arrives as the generated Problem type, with the detail a person can act on.
    missing = api["get_memory"].sync(memory.id, client=client)
    assert isinstance(missing, models.Problem)
    assert missing.status == 404 and str(memory.id) in missing.detail
