"""Helpers of the LLM pipeline tests: adding a conversation, reading a memory's history."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import LiveServer, run_sql


def say(
    client: httpx.Client, *texts: str, user_id: str = "alice", queued: bool = False
) -> httpx.Response:
    """Add ``texts`` as the user's messages; ``queued`` asks for an async add (a job)."""
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": text} for text in texts],
        "user_id": user_id,
    }
    if queued:
        body["async"] = True
    return client.post("/v1/memories", json=body)


def history_rows(server: LiveServer, memory_id: str) -> list[dict[str, Any]]:
    rows = run_sql(
        server.dsn,
        "SELECT event, old_content, new_content, actor, llm_model, prompt_version "
        "FROM memory_history WHERE memory_id = $1 ORDER BY id",
        uuid.UUID(memory_id),
    )
    return [dict(row) for row in rows]
