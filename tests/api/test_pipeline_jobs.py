"""The LLM pipeline when the LLM fails, over HTTP with a scripted OpenAI-compatible server:
retries, the input kept as a queued job, jobs per tenant, the usage metrics, and endpoints
without structured outputs."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from typing import Any

import httpx

from service.adapters.embedder import Embedder
from tests.api.pipeline_support import say
from tests.conftest import LiveServer, create_api_key, run_sql, start_server
from tests.llm_server import Reply, ScriptedLLM, decisions


def assert_deferred(
    response: httpx.Response, server: LiveServer, error_part: str
) -> dict[str, Any]:
    """The add was not applied, but its input is stored as a queued job with the reason."""
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert job["status"] == "queued"
    assert error_part in job["last_error"]
    [row] = run_sql(
        server.dsn, "SELECT request FROM ingest_jobs WHERE id = $1", uuid.UUID(job["id"])
    )
    assert json.loads(row["request"])["turns"][0]["content"]
    return job


def test_llm_timeouts_keep_the_input_as_a_job(
    llm_client: httpx.Client, llm: ScriptedLLM, llm_server: LiveServer
) -> None:
    llm.script(*[Reply(answer={"decisions": []}, delay_s=1.5) for _ in range(3)])

    response = say(llm_client, "My passport number ends in 42")

    job = assert_deferred(response, llm_server, "timeout")
    assert len(llm.requests) == 3
    assert llm_client.get("/v1/memories", params={"user_id": "alice"}).json()["memories"] == []
    assert llm_client.get(f"/v1/jobs/{job['id']}").json()["status"] == "queued"


def test_rate_limit_is_retried_after_retry_after(
    llm_client: httpx.Client, llm: ScriptedLLM
) -> None:
    llm.script(
        Reply(status=429, headers={"Retry-After": "1"}),
        decisions(("Alice speaks Dutch", "ADD", None)),
    )

    started = time.monotonic()
    body = say(llm_client, "I speak Dutch").json()

    assert time.monotonic() - started >= 1.0
    assert [r["event"] for r in body["results"]] == ["ADD"]
    assert body["usage"]["llm_calls"] == 2


def test_server_errors_and_invalid_answers_are_retried(
    llm_client: httpx.Client, llm: ScriptedLLM
) -> None:
    llm.script(
        Reply(status=503),
        Reply(raw_content="Sure! Here are the facts: Alice likes jazz"),
        decisions(("Alice likes jazz", "ADD", None)),
    )

    body = say(llm_client, "I like jazz").json()

    assert [r["memory"]["text"] for r in body["results"]] == ["Alice likes jazz"]
    assert body["usage"]["llm_calls"] == 3


def test_schema_violations_every_time_leave_nothing_half_applied(
    llm_client: httpx.Client, llm: ScriptedLLM, llm_server: LiveServer
) -> None:
    bad = {"decisions": [{"fact": "Alice likes jazz", "event": "MAYBE", "memory": None}]}
    llm.script(Reply(answer=bad), Reply(answer={"facts": []}), Reply(raw_content="[]"))

    response = say(llm_client, "I like jazz")

    assert_deferred(response, llm_server, "invalid_output")
    assert llm_client.get("/v1/memories", params={"user_id": "alice"}).json()["memories"] == []


def test_jobs_of_other_tenants_are_invisible(
    llm_client: httpx.Client, llm: ScriptedLLM, other_client: httpx.Client
) -> None:
    llm.script(*[Reply(status=500) for _ in range(3)])
    job = say(llm_client, "I own a red bicycle").json()

    assert other_client.get(f"/v1/jobs/{job['id']}").status_code == 404
    assert llm_client.get(f"/v1/jobs/{job['id']}").status_code == 200


def test_llm_usage_is_exposed_as_metrics(
    llm_client: httpx.Client, llm: ScriptedLLM, llm_server: LiveServer
) -> None:
    llm.script(Reply(status=500), decisions(("Alice keeps bees", "ADD", None)))

    say(llm_client, "I keep bees on my roof")
    text = httpx.get(f"{llm_server.base_url}/metrics").text

    assert 'memory_llm_calls_total{outcome="ok"}' in text
    assert 'memory_llm_calls_total{outcome="server_error"}' in text
    assert 'memory_llm_tokens_total{kind="prompt"}' in text
    assert "memory_llm_request_duration_seconds_count" in text
    assert 'memory_ingest_queue_depth{status="queued"}' in text
    assert "memory_ingest_queue_oldest_age_seconds" in text


def test_json_object_mode_for_endpoints_without_structured_outputs(
    llm_server: LiveServer, llm: ScriptedLLM, embedder: Embedder
) -> None:
    server = start_server(
        replace(llm_server.settings, llm_response_format="json_object"), llm_server.dsn, embedder
    )
    key = create_api_key(llm_server.dsn, f"json-object-{uuid.uuid4().hex[:8]}")
    try:
        with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=30) as http:
            llm.script(decisions(("Alice writes poetry", "ADD", None)))
            body = say(http, "I write poetry").json()
    finally:
        server.stop()

    assert llm.requests[0]["response_format"] == {"type": "json_object"}
    assert [r["memory"]["text"] for r in body["results"]] == ["Alice writes poetry"]
