"""Running cases against a live service over HTTP, and what a run adds up to.

Each case gets a scope of its own (a unique user_id): its memories before are stored as given
(``infer: false``, no LLM), then its conversation is added with ``infer: true`` and waited for
(a 202 is a deferred add: its job is polled until it ends), then the add's events and the
scope's memories are read back and judged against the labels.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.decisions.cases import CATEGORIES, Case
from benchmarks.decisions.judging import NEW_MEMORY, Decision, describe, judge
from benchmarks.harness import percentile, running_process

JOB_POLL_INTERVAL_S = 0.2


@dataclass
class CaseRun:
    """One case's run: its verdict, what the add reported and cost, and the scope after."""

    case: str
    category: str
    passed: bool = False
    exact: bool = False
    reason: str = ""
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    deferred: bool = False  # answered 202; the outcome came from its job
    events: str = ""
    memories_after: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)


class AddFailed(Exception):
    """The add did not produce an outcome (an HTTP error, a failed job, a job still pending)."""

    def __init__(self, reason: str, spent: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.spent = spent or {}


def run_on_fresh_service(
    cases: list[Case],
    service_env: Mapping[str, str],
    job_timeout_s: float,
    progress: Callable[[CaseRun], None] | None = None,
    source_dir: Path | None = None,
) -> list[CaseRun]:
    """Start the service (fresh embedded Postgres) with ``service_env`` and run every case."""
    with running_process(service_env, source_dir) as service:
        return run_cases(service.http, cases, job_timeout_s, progress)


def run_cases(
    http: httpx.Client,
    cases: Iterable[Case],
    job_timeout_s: float,
    progress: Callable[[CaseRun], None] | None = None,
) -> list[CaseRun]:
    runs = []
    for case in cases:
        run = run_case(http, case, job_timeout_s)
        if progress is not None:
            progress(run)
        runs.append(run)
    return runs


def run_case(http: httpx.Client, case: Case, job_timeout_s: float) -> CaseRun:
    run = CaseRun(case.id, case.category)
    user_id = f"{case.id}-{uuid.uuid4().hex[:12]}"
    keys = _store_before(http, case, user_id)
    started = time.perf_counter()
    try:
        answer = _add_conversation(http, case, user_id, job_timeout_s, run)
    except AddFailed as failure:
        run.latency_ms = (time.perf_counter() - started) * 1000
        run.llm_calls = int(failure.spent.get("llm_calls", 0))
        run.reason = f"the add failed: {failure.reason}"
        run.memories_after = _memories(http, user_id)
        return run
    run.latency_ms = (time.perf_counter() - started) * 1000
    usage = answer.get("usage") or {}
    run.llm_calls = int(usage.get("llm_calls", 0))
    run.prompt_tokens = int(usage.get("prompt_tokens", 0))
    run.completion_tokens = int(usage.get("completion_tokens", 0))
    run.rejected = [dict(rejected) for rejected in answer.get("rejected", [])]
    events = [_observed(result, keys) for result in answer["results"]]
    run.events = describe(events)
    run.memories_after = _memories(http, user_id)
    verdict = judge(case.outcomes, case.before, events, run.memories_after)
    run.passed, run.exact, run.reason = verdict.passed, verdict.exact, verdict.reason
    return run


def _store_before(http: httpx.Client, case: Case, user_id: str) -> dict[str, str]:
    """Store the memories before, as given; their ids mapped to the case's keys."""
    if not case.before:
        return {}
    items = [{"text": text, "user_id": user_id} for text in case.before.values()]
    response = http.post("/v1/memories/batch", json={"items": items, "infer": False})
    response.raise_for_status()
    key_of_text = {text: key for key, text in case.before.items()}
    return {
        result["memory"]["id"]: key_of_text[result["memory"]["text"]]
        for result in response.json()["results"]
    }


def _add_conversation(
    http: httpx.Client, case: Case, user_id: str, job_timeout_s: float, run: CaseRun
) -> dict[str, Any]:
    messages = [
        {"role": message.role, "content": message.content}
        | ({"timestamp": message.at.isoformat()} if message.at else {})
        for message in case.conversation
    ]
    try:
        response = http.post(
            "/v1/memories",
            json={"user_id": user_id, "messages": messages, "infer": True},
            timeout=job_timeout_s,
        )
    except httpx.TransportError as error:  # e.g. a model slower than the timeout
        raise AddFailed(f"{type(error).__name__}: {error}") from error
    if response.status_code == 201:
        answer: dict[str, Any] = response.json()
        return answer
    if response.status_code != 202:
        raise AddFailed(f"HTTP {response.status_code}: {response.text[:300]}")
    # Deferred: the service answered before the LLM did (or the LLM failed and a worker
    # retries); the job carries the outcome once it ends.
    run.deferred = True
    return _wait_for_job(http, response.json()["id"], job_timeout_s)


def _wait_for_job(http: httpx.Client, job_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        response = http.get(f"/v1/jobs/{job_id}")
        if response.status_code != 200:
            raise AddFailed(f"GET /v1/jobs/{job_id}: HTTP {response.status_code}")
        job: dict[str, Any] = response.json()
        if job["status"] == "done" and job.get("result") is not None:
            result: dict[str, Any] = job["result"]
            return result
        if job["status"] == "failed":
            raise AddFailed(f"the job failed: {job.get('last_error')}", job)
        if time.monotonic() > deadline:
            raise AddFailed(
                f"the job was still {job['status']} after {timeout_s:g} s "
                f"(last error: {job.get('last_error')})",
                job,
            )
        time.sleep(JOB_POLL_INTERVAL_S)


def _observed(result: Mapping[str, Any], keys: Mapping[str, str]) -> Decision:
    """An event the service reported, naming its memory as the case does."""
    event = str(result["event"])
    if event == "ADD":
        return Decision(event, None, result.get("fact"))
    return Decision(event, keys.get(result["memory"]["id"], NEW_MEMORY), result.get("fact"))


def _memories(http: httpx.Client, user_id: str) -> list[str]:
    response = http.get("/v1/memories", params={"user_id": user_id, "limit": 1000})
    response.raise_for_status()
    return sorted(memory["text"] for memory in response.json()["memories"])


def summarise(runs: list[CaseRun]) -> dict[str, Any]:
    """Accuracy per category and overall, and what the adds cost."""
    adds = len(runs)
    latencies = [run.latency_ms for run in runs]
    categories = {}
    for category in CATEGORIES:
        of_category = [run for run in runs if run.category == category]
        if of_category:
            categories[category] = _accuracy(of_category)
    return {
        "categories": categories,
        "overall": _accuracy(runs),
        "llm_calls_per_add": round(sum(run.llm_calls for run in runs) / adds, 3),
        "adds_without_llm_call": sum(1 for run in runs if run.llm_calls == 0),
        "prompt_tokens_per_add": round(sum(run.prompt_tokens for run in runs) / adds, 1),
        "completion_tokens_per_add": round(sum(run.completion_tokens for run in runs) / adds, 1),
        "add_latency_p50_ms": round(percentile(latencies, 0.5), 1),
        "add_latency_p95_ms": round(percentile(latencies, 0.95), 1),
        "deferred_adds": sum(1 for run in runs if run.deferred),
        "failed_adds": sum(1 for run in runs if run.reason.startswith("the add failed")),
        "rejected_decisions": sum(len(run.rejected) for run in runs),
        "failed_cases": [run.case for run in runs if not run.passed],
    }


def _accuracy(runs: list[CaseRun]) -> dict[str, Any]:
    passed = sum(1 for run in runs if run.passed)
    return {
        "cases": len(runs),
        "passed": passed,
        "accuracy": round(passed / len(runs), 4),
        "exact_events": sum(1 for run in runs if run.exact),
    }
