"""The LLM step's cost and latency are bounded, over HTTP with a scripted OpenAI-compatible
server: an output cap on every request, a token budget per add, a bounded synchronous wait, a
circuit breaker, and failed jobs listed and retried (API and CLI)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from service.adapters.embedder import Embedder
from service.adapters.llm import estimated_tokens
from service.settings import Settings
from tests.api.pipeline_support import say
from tests.api.test_cli import memory_service
from tests.conftest import LiveServer, create_api_key, run_sql, start_server
from tests.llm_server import Reply, ScriptedLLM, decisions

TRUNCATED = Reply(raw_content='{"decisions": [{"fact": "Alice lives in', finish_reason="length")


@contextmanager
def own_llm_server(
    settings: Settings, dsn: str, embedder: Embedder, llm: ScriptedLLM, **overrides: Any
) -> Iterator[httpx.Client]:
    """A server of its own (its breaker and cap parameter are its own), and a fresh tenant."""
    defaults: dict[str, Any] = {"llm_timeout_s": 1.0, "job_workers": 0}
    settings = replace(
        settings,
        llm_base_url=llm.base_url,
        llm_model="scripted-model",
        **{**defaults, **overrides},
    )
    server = start_server(settings, dsn, embedder)
    key = create_api_key(dsn, f"bounds-{uuid.uuid4().hex[:12]}")
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
            yield http
    finally:
        server.stop()


def memories_of(client: httpx.Client, user_id: str = "alice") -> list[dict[str, Any]]:
    memories: list[dict[str, Any]] = client.get("/v1/memories", params={"user_id": user_id}).json()[
        "memories"
    ]
    return memories


def test_every_request_carries_the_output_cap_and_the_add_reports_its_budget(
    llm_client: httpx.Client, llm: ScriptedLLM, llm_server: LiveServer
) -> None:
    llm.script(decisions(("Alice lives in Lyon", "ADD", None)))

    body = say(llm_client, "I live in Lyon").json()

    # A local endpoint gets max_tokens, which every OpenAI-compatible server knows.
    assert llm.requests[0]["max_tokens"] == llm_server.settings.llm_max_output_tokens
    assert "max_completion_tokens" not in llm.requests[0]
    assert body["usage"]["token_budget"] == llm_server.settings.llm_token_budget_per_add
    assert body["usage"]["prompt_tokens"] == 100


def test_a_refused_cap_parameter_is_switched_for_the_other_one(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, llm: ScriptedLLM
) -> None:
    refusal = Reply(
        status=400,
        error_message="Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        error_param="max_tokens",
    )
    llm.script(refusal, decisions(("Alice plays the cello", "ADD", None)))
    llm.script(decisions(("Alice plays the viola", "ADD", None)))
    with own_llm_server(test_settings, migrated_dsn, embedder, llm) as client:
        first = say(client, "I play the cello")
        second = say(client, "I play the viola too")

    assert first.status_code == second.status_code == 201, first.text
    assert [("max_tokens" in r, "max_completion_tokens" in r) for r in llm.requests] == [
        (True, False),
        (False, True),
        (False, True),  # remembered: later requests send the accepted one at once
    ]


def test_a_truncated_answer_fails_its_job_at_once_and_stores_nothing(
    llm_client: httpx.Client, llm: ScriptedLLM
) -> None:
    llm.script(TRUNCATED)

    response = say(llm_client, "I live in Lyon")

    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "failed"
    assert job["last_error"].startswith("truncated: ")
    assert "MEMORY_LLM_MAX_OUTPUT_TOKENS" in job["last_error"]
    assert len(llm.requests) == 1  # the same request would be cut off again: not retried
    assert memories_of(llm_client) == []
    assert job["tokens_used"] == 120 and job["llm_calls"] == 1


def test_the_token_budget_holds_back_further_calls(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, llm: ScriptedLLM
) -> None:
    # Each answer is unusable and reports 1,000 tokens: a budget of 3,000 pays for three.
    spent = {"prompt_tokens": 1000, "completion_tokens": 0}
    llm.script(*[Reply(raw_content="not JSON", usage=spent) for _ in range(3)])
    with own_llm_server(
        test_settings,
        migrated_dsn,
        embedder,
        llm,
        llm_token_budget_per_add=3000,
        llm_max_retries=4,
    ) as client:
        job = say(client, "I live in Lyon").json()
        assert memories_of(client) == []

    messages = llm.requests[0]["messages"]
    prompt = estimated_tokens(messages[0]["content"], messages[1]["content"])
    # No request asks for more than the budget has left after its prompt; none goes out
    # once that is too little.
    assert [request["max_tokens"] for request in llm.requests] == [
        min(1024, 3000 - prompt),
        min(1024, 2000 - prompt),
        1000 - prompt,
    ]
    assert job["status"] == "failed"
    assert job["last_error"].startswith("token_budget: the add's budget of 3000 tokens")
    assert job["tokens_used"] == 3000


def test_a_slow_llm_gets_a_202_after_the_wait_and_the_job_finishes_without_a_second_call(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, llm: ScriptedLLM
) -> None:
    llm.script(Reply(answer=decisions(("Alice lives in Lyon", "ADD", None)).answer, delay_s=3))
    with own_llm_server(
        test_settings, migrated_dsn, embedder, llm, llm_sync_wait_s=0.5, llm_timeout_s=10
    ) as client:
        started = time.monotonic()
        response = say(client, "I live in Lyon")
        answered_s = time.monotonic() - started
        job = response.json()
        deadline = time.monotonic() + 20
        while job["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
            job = client.get(f"/v1/jobs/{job['id']}").json()
        stored = memories_of(client)

    # Answered after the 0.5 s wait, long before the LLM's 3 s.
    assert response.status_code == 202 and answered_s < 2.5, (response.text, answered_s)
    assert response.json()["status"] == "running"
    assert job["status"] == "done"
    assert [r["event"] for r in job["result"]["results"]] == ["ADD"]
    assert [m["text"] for m in stored] == ["Alice lives in Lyon"]
    assert len(llm.requests) == 1


def test_repeated_failures_defer_adds_without_calling_until_a_probe_succeeds(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, llm: ScriptedLLM
) -> None:
    llm.script(Reply(status=500), Reply(status=500))
    with own_llm_server(
        test_settings,
        migrated_dsn,
        embedder,
        llm,
        llm_max_retries=0,
        llm_breaker_failures=2,
        llm_breaker_cooldown_s=1.0,
    ) as client:
        failed = [say(client, f"I visited city {n}") for n in range(2)]
        held = say(client, "I visited Oslo")
        degraded = client.get("/readyz").json()
        circuit = client.get("/metrics").text
        time.sleep(1.1)
        llm.script(decisions(("Alice visited Bergen", "ADD", None)))
        probe = say(client, "I visited Bergen")
        recovered = client.get("/readyz").json()

    assert [r.json()["last_error"].split(":")[0] for r in failed] == ["server_error"] * 2
    assert held.status_code == 202
    assert held.json()["status"] == "queued"
    assert held.json()["last_error"].startswith("unavailable: ")
    assert held.json()["attempts"] == 0
    assert len(llm.requests) == 3  # two failures, then the probe; the held add never called
    assert degraded == {"status": "ready", "database": True, "model": True, "llm": "degraded"}
    assert "memory_llm_circuit_open 1.0" in circuit
    assert probe.status_code == 201, probe.text
    assert recovered["llm"] == "ok"


def test_failed_jobs_are_listed_per_tenant_and_can_be_retried(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, llm: ScriptedLLM
) -> None:
    llm.script(TRUNCATED, TRUNCATED)
    with own_llm_server(test_settings, migrated_dsn, embedder, llm) as client:
        first = say(client, "I live in Lyon").json()
        second = say(client, "I work in Paris").json()
        page = client.get("/v1/jobs", params={"status": "failed", "limit": 1}).json()
        rest = client.get(
            "/v1/jobs", params={"status": "failed", "cursor": page["next_cursor"]}
        ).json()
        retried = client.post(f"/v1/jobs/{first['id']}/retry")
        again = client.post(f"/v1/jobs/{first['id']}/retry")
        listed_after = client.get("/v1/jobs", params={"status": "failed"}).json()
        other_key = create_api_key(migrated_dsn, f"other-{uuid.uuid4().hex[:8]}")
        with httpx.Client(base_url=client.base_url, headers={"X-API-Key": other_key}) as other:
            others_view = other.get("/v1/jobs", params={"status": "failed"})
            others_retry = other.post(f"/v1/jobs/{second['id']}/retry")

    assert [job["id"] for job in page["jobs"] + rest["jobs"]] == [second["id"], first["id"]]
    assert rest["next_cursor"] is None
    assert page["jobs"][0]["last_error"].startswith("truncated: ")
    assert retried.status_code == 202, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("queued", 0)
    assert retried.json()["tokens_used"] == 0
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert [job["id"] for job in listed_after["jobs"]] == [second["id"]]
    assert others_view.json()["jobs"] == []
    assert others_retry.status_code == 404


def test_the_cli_lists_and_retries_failed_jobs(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, llm: ScriptedLLM
) -> None:
    llm.script(TRUNCATED)
    with own_llm_server(test_settings, migrated_dsn, embedder, llm) as client:
        job = say(client, "I live in Lyon").json()

    listed = memory_service("jobs", "failed", database_url=migrated_dsn)
    unknown = str(uuid.uuid4())
    retried = memory_service("jobs", "retry", unknown, job["id"], database_url=migrated_dsn)
    twice = memory_service("jobs", "retry", job["id"], database_url=migrated_dsn)

    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if line.startswith(job["id"])]
    assert "truncated: " in line and "tokens 120" in line
    # An unknown id is reported and the others are still retried.
    assert retried.returncode == 2
    assert f"no job with id {unknown} exists\n" in retried.stderr
    assert f"queued {job['id']} again" in retried.stdout
    [row] = run_sql(
        migrated_dsn, "SELECT status, attempts FROM ingest_jobs WHERE id = $1", uuid.UUID(job["id"])
    )
    assert (row["status"], row["attempts"]) == ("queued", 0)
    assert twice.returncode == 2
    assert "only a failed job can be retried" in twice.stderr


def test_an_answer_trickling_in_is_cut_off_at_the_timeout(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, llm: ScriptedLLM
) -> None:
    # Each byte arrives well within any read timeout; the whole would take minutes.
    llm.script(Reply(answer={"decisions": []}, trickle_s=0.2))
    with own_llm_server(test_settings, migrated_dsn, embedder, llm, llm_max_retries=0) as client:
        started = time.monotonic()
        job = say(client, "I live in Lyon").json()
        elapsed_s = time.monotonic() - started

    assert job["last_error"].startswith("timeout: "), job
    assert elapsed_s < 4, elapsed_s  # the timeout is 1 s


def test_a_prompt_larger_than_the_budget_is_never_sent(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, llm: ScriptedLLM
) -> None:
    with own_llm_server(
        test_settings, migrated_dsn, embedder, llm, llm_token_budget_per_add=256
    ) as client:
        job = say(client, "I live in Lyon. " * 150).json()  # ~2,400 bytes: ~600 tokens

    assert llm.requests == []
    assert job["status"] == "failed"
    assert job["last_error"].startswith("token_budget: ")


def test_a_request_the_endpoint_refuses_for_its_content_fails_once_and_opens_no_breaker(
    test_settings: Settings, migrated_dsn: str, embedder: Embedder, llm: ScriptedLLM
) -> None:
    too_long = Reply(
        status=400,
        error_message="'max_tokens' is too large: 1024. This model's maximum context length "
        "is 2048 tokens and your request has 1500 input tokens",
    )
    llm.script(too_long, too_long, decisions(("Alice lives in Lyon", "ADD", None)))
    with own_llm_server(
        test_settings, migrated_dsn, embedder, llm, llm_breaker_failures=2
    ) as client:
        refused = [say(client, f"A long story, part {n}").json() for n in range(2)]
        fine = say(client, "I live in Lyon")

    assert [job["status"] for job in refused] == ["failed", "failed"]
    assert all(job["last_error"].startswith("bad_request: ") for job in refused)
    assert fine.status_code == 201, fine.text  # the breaker did not open
    # One request each (not retried), and the cap's parameter was not switched.
    assert ["max_tokens" in request for request in llm.requests] == [True, True, True]


def test_nonsense_usage_from_the_endpoint_is_not_believed(
    llm_client: httpx.Client, llm: ScriptedLLM
) -> None:
    answer = decisions(("Alice lives in Lyon", "ADD", None)).answer
    llm.script(
        Reply(answer=answer, usage={"prompt_tokens": 2**40, "completion_tokens": -5}),
    )

    response = say(llm_client, "I live in Lyon")

    assert response.status_code == 201, response.text
    usage = response.json()["usage"]
    # Charged the prompt's estimate instead: bytes / 4.
    assert 0 < usage["prompt_tokens"] < 10_000 and usage["completion_tokens"] == 0


def test_a_slow_job_keeps_its_lease_and_is_processed_once(
    test_settings: Settings,
    own_postgres: tuple[Path, str],
    embedder: Embedder,
    llm: ScriptedLLM,
) -> None:
    # The lease (1 s) is shorter than the LLM's answer (3 s): renewed, no worker takes over.
    # An empty database of its own: its worker must meet no job other tests left queued.
    _, dsn = own_postgres
    llm.script(Reply(answer=decisions(("Alice lives in Lyon", "ADD", None)).answer, delay_s=3))
    with own_llm_server(
        replace(test_settings, database_url=dsn),
        dsn,
        embedder,
        llm,
        job_lease_s=1.0,
        job_workers=1,
        llm_sync_wait_s=0.3,
        llm_timeout_s=10,
    ) as client:
        job = say(client, "I live in Lyon").json()
        deadline = time.monotonic() + 20
        while job["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
            job = client.get(f"/v1/jobs/{job['id']}").json()
        time.sleep(1.5)  # a worker that had taken over would have called by now
        stored = memories_of(client)

    assert job["status"] == "done", job
    assert len(llm.requests) == 1
    assert [m["text"] for m in stored] == ["Alice lives in Lyon"]


def test_hostile_job_listing_parameters_are_refused_with_problems(
    llm_client: httpx.Client,
) -> None:
    forged = "eyJ0IjogIjk5OTktMDEtMDFUMDA6MDA6MDArMDA6MDAiLCAiaWQiOiAieCJ9"  # a year-9999 time
    cases: list[tuple[dict[str, Any], int]] = [
        ({"status": "queued"}, 400),  # only failed jobs are listed
        ({}, 400),  # status is required
        ({"status": "failed", "limit": 0}, 400),
        ({"status": "failed", "limit": 10**20}, 400),
        ({"status": "failed", "limit": [1, 2]}, 400),  # given twice
        ({"status": "failed", "cursor": "not-a-cursor"}, 422),
        ({"status": "failed", "cursor": forged}, 422),
        ({"status": "failed", "cursor": "A" * 10_000}, 422),
        ({"status": "failed", "cursor": "\u0000"}, 422),
    ]
    for params, status in cases:
        response = llm_client.get("/v1/jobs", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    retry_unknown = llm_client.post(f"/v1/jobs/{uuid.uuid4()}/retry")
    assert retry_unknown.status_code == 404
    not_an_id = llm_client.post("/v1/jobs/not-a-uuid/retry")
    assert not_an_id.status_code == 404 and "ids are UUIDs" in not_an_id.text
