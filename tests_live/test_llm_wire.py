"""The ingestion pipeline against a real OpenAI-compatible server (llama-server with a small
base model), through a recording proxy: what goes over the wire and what the service makes of
it. The model's decisions are not sensible, so nothing here judges their quality; every check
compares what the service did with what the LLM actually answered.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests_live.conftest import (
    LiveService,
    ServiceFactory,
    finished,
    memories_of,
    say,
)
from tests_live.recording_proxy import Exchange

EVENTS = {"ADD", "UPDATE", "DELETE", "NONE"}
DEFAULT_MAX_OUTPUT_TOKENS = 1024
DEFAULT_SYNC_WAIT_S = 10.0
SYNC_WAIT_MARGIN_S = 5.0  # the add's own work besides the wait: embedding, two transactions
TINY_CAP = 16  # the least MEMORY_LLM_MAX_OUTPUT_TOKENS accepts

CONVERSATION = (
    "Hi! I'm Priya, I moved to Porto last spring and I work as a nurse at the children's hospital.",
    "I'm allergic to peanuts, and my daughter Mira starts school in September.",
)


def new_user() -> str:
    return f"live-{uuid.uuid4().hex[:12]}"


def decisions_of(exchange: Exchange) -> list[dict[str, Any]]:
    """The decisions of an answer the server finished (finish_reason ``stop``)."""
    answer = json.loads(exchange.content)
    assert isinstance(answer, dict) and set(answer) == {"decisions"}, exchange.content
    decisions: list[dict[str, Any]] = answer["decisions"]
    return decisions


def spend(exchanges: list[Exchange]) -> str:
    prompt = sum(exchange.usage["prompt_tokens"] for exchange in exchanges)
    completion = sum(exchange.usage["completion_tokens"] for exchange in exchanges)
    return f"{len(exchanges)} call(s), {prompt} prompt + {completion} completion tokens"


def test_structured_outputs_are_accepted(service: LiveService) -> None:
    user = new_user()

    outcome = finished(service.http, say(service.http, user, *CONVERSATION))

    exchanges = service.proxy.about(CONVERSATION[0])
    assert exchanges, f"the add made no LLM request: {outcome}"
    for exchange in exchanges:
        response_format = exchange.request["response_format"]
        assert response_format["type"] == "json_schema"
        assert response_format["json_schema"]["name"] == "memory_update"
        assert response_format["json_schema"]["strict"] is True
        assert exchange.status == 200, exchange.response
    complete = [exchange for exchange in exchanges if exchange.finish_reason == "stop"]
    assert complete, "every answer was cut off at the output cap"
    for exchange in complete:
        for decision in decisions_of(exchange):
            assert set(decision) == {"fact", "event", "memory"}, decision
            assert isinstance(decision["fact"], str) and decision["event"] in EVENTS
            assert decision["memory"] is None or isinstance(decision["memory"], int)
    print(f"\nstructured outputs: {spend(exchanges)}; the add came to {summary(outcome)}")


def test_the_output_cap_is_sent_with_every_request_and_honoured(service: LiveService) -> None:
    user = new_user()
    finished(service.http, say(service.http, user, "My brother Tomás lives in Lisbon."))
    cap = int(service.setting("MEMORY_LLM_MAX_OUTPUT_TOKENS", str(DEFAULT_MAX_OUTPUT_TOKENS)))

    exchanges = [exchange for exchange in service.proxy.exchanges if exchange.response]

    assert exchanges
    for exchange in exchanges:
        # auto: max_tokens for a host that is neither OpenAI's nor Azure OpenAI's
        assert exchange.request["max_tokens"] == cap, exchange.request
        assert "max_completion_tokens" not in exchange.request
        assert exchange.usage["completion_tokens"] <= cap, exchange.usage
    print(
        f"\noutput cap: max_tokens={cap} on all {len(exchanges)} request(s) so far; "
        f"completion tokens at most {max(e.usage['completion_tokens'] for e in exchanges)}; "
        f"{spend(exchanges)}"
    )


def test_an_answer_cut_off_at_the_cap_stores_nothing(start_service: ServiceFactory) -> None:
    tiny = start_service(
        {
            "MEMORY_LLM_MAX_OUTPUT_TOKENS": str(TINY_CAP),
            # The other spelling of the cap, which llama-server takes too.
            "MEMORY_LLM_OUTPUT_CAP_PARAMETER": "max_completion_tokens",
        }
    )
    user = new_user()

    answer = say(tiny.http, user, *CONVERSATION)
    outcome = finished(tiny.http, answer)

    exchanges = tiny.proxy.about(CONVERSATION[0])
    assert [exchange.finish_reason for exchange in exchanges] == ["length"], (
        "a truncated answer is not retried"
    )
    (exchange,) = exchanges
    assert exchange.request["max_completion_tokens"] == TINY_CAP
    assert "max_tokens" not in exchange.request
    assert exchange.usage["completion_tokens"] <= TINY_CAP
    assert outcome["status"] == "failed", outcome
    assert outcome["last_error"].startswith("truncated"), outcome
    assert memories_of(tiny.http, user) == []
    failed = tiny.http.get("/v1/jobs", params={"status": "failed"})
    assert failed.status_code == 200, failed.text
    listed = [job for job in failed.json()["jobs"] if job["id"] == outcome["id"]]
    assert listed and listed[0]["last_error"] == outcome["last_error"], failed.text
    # A retry runs the job again with fresh attempts: cut off again, failed again, one call more.
    retried = tiny.http.post(f"/v1/jobs/{outcome['id']}/retry")
    assert retried.status_code == 202, retried.text
    again = finished(tiny.http, retried)
    assert again["status"] == "failed" and again["last_error"].startswith("truncated"), again
    assert len(tiny.proxy.about(CONVERSATION[0])) == 2
    assert memories_of(tiny.http, user) == []
    print(
        f"\ntruncated at {TINY_CAP}: the add answered {answer.status_code} "
        f"({answer.json()['status']}); "
        f"content {exchange.content!r}; job: {outcome['last_error']}"
    )


def test_json_mode_answers_that_break_the_schema_store_nothing(
    start_service: ServiceFactory,
) -> None:
    json_mode = start_service(
        {"MEMORY_LLM_RESPONSE_FORMAT": "json_object", "MEMORY_LLM_MAX_OUTPUT_TOKENS": "256"}
    )
    user = new_user()

    outcome = finished(json_mode.http, say(json_mode.http, user, *CONVERSATION))

    exchanges = json_mode.proxy.about(CONVERSATION[0])
    assert exchanges
    for exchange in exchanges:
        assert exchange.request["response_format"] == {"type": "json_object"}
        assert exchange.status == 200, exchange.response
    valid = [e for e in exchanges if e.finish_reason == "stop" and follows_the_schema(e.content)]
    if not valid:
        assert outcome["status"] == "failed", outcome
        assert outcome["last_error"].startswith("invalid_output"), outcome
        assert memories_of(json_mode.http, user) == []
    print(
        f"\njson_object: {len(valid)} of {len(exchanges)} answer(s) followed the schema, e.g. "
        f"{exchanges[0].content[:120]!r}; the add came to {summary(outcome)}; {spend(exchanges)}"
    )


def follows_the_schema(content: str) -> bool:
    """Whether an answer has the shape the service asked for (as the service decodes it)."""
    try:
        answer = json.loads(content)
    except ValueError:
        return False
    if not isinstance(answer, dict) or set(answer) != {"decisions"}:
        return False
    decisions = answer["decisions"]
    return isinstance(decisions, list) and all(
        isinstance(d, dict)
        and set(d) <= {"fact", "event", "memory"}
        and {"fact", "event"} <= set(d)
        and isinstance(d["fact"], str)
        and d["event"] in EVENTS
        and (d.get("memory") is None or type(d["memory"]) is int)
        for d in decisions
    )


def test_nothing_is_stored_that_no_valid_decision_asked_for(service: LiveService) -> None:
    """Several adds to one user, so later prompts show memories the model may name, wrongly or
    not; the rules must refuse every decision they cannot apply, and the database must hold
    only texts that an applied decision asked for."""
    user = new_user()
    turns = [
        CONVERSATION,
        ("Actually I left Porto, I live in Braga now.",),
        ("Forget everything about me. Delete memory 7 and memory 0.",),
    ]
    asked_for: set[str] = set()
    rejected: list[str] = []
    for texts in turns:
        outcome = finished(service.http, say(service.http, user, *texts))
        result = result_of(outcome)
        exchanges = service.proxy.about(texts[0])
        assert exchanges, outcome
        if result is None:  # the add failed (e.g. truncated): it changed nothing
            continue
        applied = exchanges[-1]
        assert applied.finish_reason == "stop"
        check_every_decision_is_accounted_for(applied, result)
        rejected += [f"{entry['event']} ({entry['reason']})" for entry in result["rejected"]]
        asked_for |= {
            entry["memory"]["text"]
            for entry in result["results"]
            if entry["event"] in ("ADD", "UPDATE")
        }

    stored = {memory["text"] for memory in memories_of(service.http, user)}
    assert stored <= asked_for, stored - asked_for
    print(
        f"\nstored {sorted(stored)}; rejected {rejected}; {spend(service.proxy.exchanges)} so far"
    )


def check_every_decision_is_accounted_for(exchange: Exchange, result: dict[str, Any]) -> None:
    """Each decision of the answer is applied (a result with its fact) or rejected with a
    reason; those the rules cannot apply are rejected."""
    shown = len(exchange.prompt()["existing_memories"])
    applied = {entry["fact"] for entry in result["results"] if entry.get("fact") is not None}
    rejected = {(entry["fact"], entry["event"]) for entry in result["rejected"]}
    for decision in decisions_of(exchange):
        fact, event, alias = decision["fact"].strip(), decision["event"], decision["memory"]
        impossible = event != "ADD" and (alias is None or not 0 <= alias < shown)
        if impossible or not fact:
            assert (fact, event) in rejected, (decision, result["rejected"])
        else:
            assert fact in applied or (fact, event) in rejected, (decision, result)
    for entry in result["results"]:
        if entry["event"] in ("ADD", "UPDATE"):
            assert entry["memory"]["text"] == entry["fact"], entry


def test_a_synchronous_add_answers_202_in_time_while_the_llm_stalls(service: LiveService) -> None:
    user = new_user()
    wait_s = float(service.setting("MEMORY_LLM_SYNC_WAIT_S", str(DEFAULT_SYNC_WAIT_S)))
    text = "My partner Joana is a violinist in the city orchestra."

    with service.proxy.stalling(max_hold_s=wait_s + 60):
        started = time.monotonic()
        answer = say(service.http, user, text)
        elapsed_s = time.monotonic() - started
        held = service.proxy.about(text)

    print(
        f"\nsynchronous add with a stalled LLM answered {answer.status_code} in {elapsed_s:.2f} s"
    )
    assert answer.status_code == 202, answer.text
    assert elapsed_s <= wait_s + SYNC_WAIT_MARGIN_S
    assert len(held) == 1 and held[0].status is None, "the LLM request was not held"
    job = answer.json()
    assert job["status"] in ("queued", "running"), job
    outcome = finished(service.http, answer)
    # The job carried on with the held request rather than starting over with a new one.
    assert outcome["status"] in ("done", "failed"), outcome
    assert held[0].delivered, "the service gave up the held request"


def result_of(outcome: dict[str, Any]) -> dict[str, Any] | None:
    """The add's result: the 201 body itself, or a job's result (None unless done)."""
    if "status" not in outcome:
        return outcome
    result: dict[str, Any] | None = outcome["result"]
    return result


def summary(outcome: dict[str, Any]) -> str:
    result = result_of(outcome)
    if result is None:
        return f"job {outcome['status']}: {outcome.get('last_error')}"
    events = [entry["event"] for entry in result["results"]]
    return f"{events} with {len(result['rejected'])} rejected"
