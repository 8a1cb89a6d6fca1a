"""LLM pipeline benchmark: LLM calls, tokens and latency per add on a scripted workload.

Replays conversations with new facts, exact repeats, changed facts (updates) and retracted
facts (contradictions) against `memory-service serve` (embedded Postgres, temporary data dir),
whose LLM is a rule-based OpenAI-compatible server on 127.0.0.1 that answers like a careful
model would. Prints a table, checks the final memories against the expected ones, and writes
.bench/pipeline.json.

    python -m benchmarks.pipeline [--users 12] [--adds-per-user 20]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
from collections import Counter
from typing import Any

import httpx

from benchmarks.chat_server import ChatAnswer, ChatCompletionsServer, ChatRequest
from benchmarks.harness import percentile, report, running_service

ATTRIBUTES = {
    "favourite colour": ["blue", "green", "red", "yellow", "purple"],
    "job": ["nurse", "teacher", "plumber", "architect", "chef"],
    "home city": ["Berlin", "Lisbon", "Osaka", "Lima", "Oslo"],
    "car": ["a Volvo", "a Fiat", "a Tesla", "a bicycle instead"],
    "favourite sport": ["tennis", "rowing", "climbing", "judo"],
    "pet": ["a cat", "a dog", "a parrot", "two rabbits"],
}
STATEMENT = re.compile(r"^My (?P<attribute>.+?) is (?P<value>.+?)\.$")
RETRACTION = re.compile(r"^I don't have a (?P<attribute>.+?) any more\.$")


def fact_text(attribute: str, value: str) -> str:
    return f"The user's {attribute} is {value}"


class RuleBasedLLM:
    """Extracts "My X is Y" facts and reconciles them by attribute, as the prompt asks."""

    def __init__(self) -> None:
        self._server = ChatCompletionsServer(self._answer)
        self.base_url = self._server.base_url

    @property
    def calls(self) -> int:
        return self._server.calls

    def _answer(self, request: ChatRequest) -> ChatAnswer:
        return ChatAnswer(json.dumps(self.decide(request.user_prompt())))

    @staticmethod
    def decide(prompt: dict[str, Any]) -> dict[str, Any]:
        existing = {m["text"].rsplit(" is ", 1)[0]: m for m in prompt["existing_memories"]}
        decisions = []
        for turn in prompt["conversation"]:
            if statement := STATEMENT.match(turn["content"]):
                attribute, value = statement["attribute"], statement["value"]
                fact = fact_text(attribute, value)
                known = existing.get(f"The user's {attribute}")
                if known is None:
                    decisions.append({"fact": fact, "event": "ADD", "memory": None})
                elif known["text"] == fact:
                    decisions.append({"fact": fact, "event": "NONE", "memory": known["id"]})
                else:
                    decisions.append({"fact": fact, "event": "UPDATE", "memory": known["id"]})
            elif retraction := RETRACTION.match(turn["content"]):
                attribute = retraction["attribute"]
                known = existing.get(f"The user's {attribute}")
                if known is not None:
                    fact = f"The user no longer has a {attribute}"
                    decisions.append({"fact": fact, "event": "DELETE", "memory": known["id"]})
        return {"decisions": decisions}

    def close(self) -> None:
        self._server.close()


def workload(users: int, adds_per_user: int, rng: random.Random) -> list[tuple[str, str]]:
    """(user, message) pairs: new facts, repeats, changes and retractions, users interleaved."""
    conversations: dict[str, list[str]] = {}
    for user_index in range(users):
        said: list[str] = []
        state: dict[str, str] = {}
        for _ in range(adds_per_user):
            roll = rng.random()
            if said and roll < 0.25:
                message = rng.choice(said)  # an exact repeat
            elif state and roll < 0.35:
                attribute = rng.choice(sorted(state))
                message = f"I don't have a {attribute} any more."
                del state[attribute]
            else:
                attribute = rng.choice(sorted(ATTRIBUTES))
                value = rng.choice(ATTRIBUTES[attribute])
                message = f"My {attribute} is {value}."
                state[attribute] = value
            said.append(message)
        conversations[f"user-{user_index}"] = said
    plan: list[tuple[str, str]] = []
    while conversations:
        user = rng.choice(sorted(conversations))
        plan.append((user, conversations[user].pop(0)))
        if not conversations[user]:
            del conversations[user]
    return plan


def expected_state(plan: list[tuple[str, str]]) -> dict[str, set[str]]:
    state: dict[str, dict[str, str]] = {}
    for user, message in plan:
        facts = state.setdefault(user, {})
        if statement := STATEMENT.match(message):
            facts[statement["attribute"]] = statement["value"]
        elif retraction := RETRACTION.match(message):
            facts.pop(retraction["attribute"], None)
    return {user: {fact_text(a, v) for a, v in facts.items()} for user, facts in state.items()}


def run(users: int, adds_per_user: int) -> dict[str, Any]:
    llm = RuleBasedLLM()
    plan = workload(users, adds_per_user, random.Random(7))
    llm_env = {"MEMORY_LLM_BASE_URL": llm.base_url, "MEMORY_LLM_MODEL": "rule-based"}
    try:
        with running_service(llm_env) as http:
            return replay(http, plan)
    finally:
        llm.close()


def replay(http: httpx.Client, plan: list[tuple[str, str]]) -> dict[str, Any]:
    latencies_ms: list[float] = []
    calls: list[int] = []
    prompt_tokens = completion_tokens = 0
    events: Counter[str] = Counter()
    for user, message in plan:
        response = http.post(
            "/v1/memories",
            json={"user_id": user, "messages": [{"role": "user", "content": message}]},
        )
        response.raise_for_status()
        body = response.json()
        latencies_ms.append(response.elapsed.total_seconds() * 1000)
        usage = body["usage"]
        calls.append(usage["llm_calls"])
        prompt_tokens += usage["prompt_tokens"]
        completion_tokens += usage["completion_tokens"]
        events.update(result["event"] for result in body["results"])
    mismatched_users = 0
    for user, facts in expected_state(plan).items():
        stored = http.get("/v1/memories", params={"user_id": user, "limit": 1000}).json()
        if {m["text"] for m in stored["memories"]} != facts:
            mismatched_users += 1
    adds = len(plan)
    return {
        "adds": adds,
        "llm_calls_per_add": round(sum(calls) / adds, 3),
        "adds_without_llm_call": calls.count(0),
        "prompt_tokens_per_add": round(prompt_tokens / adds, 1),
        "completion_tokens_per_add": round(completion_tokens / adds, 1),
        "add_latency_p50_ms": round(percentile(latencies_ms, 0.5), 1),
        "add_latency_p95_ms": round(percentile(latencies_ms, 0.95), 1),
        "add_latency_mean_ms": round(statistics.fmean(latencies_ms), 1),
        "events": dict(events),
        "users": len({user for user, _ in plan}),
        "users_whose_final_memories_differ_from_expected": mismatched_users,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--adds-per-user", type=int, default=20)
    args = parser.parse_args()
    results = run(args.users, args.adds_per_user)
    rows = [
        ("adds (users)", f"{results['adds']} ({results['users']})"),
        ("LLM calls per add", str(results["llm_calls_per_add"])),
        ("adds answered without an LLM call", str(results["adds_without_llm_call"])),
        (
            "prompt / completion tokens per add",
            f"{results['prompt_tokens_per_add']} / {results['completion_tokens_per_add']}",
        ),
        (
            "add latency p50 / p95 (ms)",
            f"{results['add_latency_p50_ms']} / {results['add_latency_p95_ms']}",
        ),
        ("events", ", ".join(f"{k} {v}" for k, v in sorted(results["events"].items()))),
        (
            "users whose final memories differ",
            str(results["users_whose_final_memories_differ_from_expected"]),
        ),
    ]
    report(rows, results, "pipeline")


if __name__ == "__main__":
    main()
