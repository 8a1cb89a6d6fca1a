"""A scripted OpenAI-compatible LLM that answers each case's labelled decisions exactly.

It recognises the case by the conversation in the service's prompt and names each labelled
target by the alias the prompt shows for its text, so a run against it checks the harness's
plumbing (storing, adding, reading back, judging) without a real model. Cases listed in
``wrong`` get a deliberately wrong answer (an extra invented fact), so a check built on the
oracle can fail.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from benchmarks.chat_server import ChatAnswer, ChatCompletionsServer, ChatRequest
from benchmarks.decisions.cases import Case
from benchmarks.decisions.runner import CaseRun, run_on_fresh_service

INVENTED_FACT = "The user owns a yellow submarine"
ORACLE_MODEL = "oracle"


class OracleLLM:
    def __init__(self, cases: Iterable[Case], wrong: Iterable[str] = ()) -> None:
        self._cases = {case.fingerprint(): case for case in cases}
        self._wrong = set(wrong)
        self._lock = threading.Lock()
        self.problems: list[str] = []  # prompts it could not answer as labelled
        self._server = ChatCompletionsServer(self._answer)
        self.base_url = self._server.base_url

    @property
    def calls(self) -> int:
        return self._server.calls

    def close(self) -> None:
        self._server.close()

    def _answer(self, request: ChatRequest) -> ChatAnswer:
        prompt = request.user_prompt()
        try:
            fingerprint = tuple((turn["role"], turn["content"]) for turn in prompt["conversation"])
            aliases = {memory["text"]: memory["id"] for memory in prompt["existing_memories"]}
        except (KeyError, TypeError):
            return self._refuse("a prompt without the conversation or the memories")
        case = self._cases.get(fingerprint)
        if case is None:
            return self._refuse(f"a conversation of no case: {fingerprint!r}"[:300])
        return ChatAnswer(json.dumps({"decisions": self._decisions(case, aliases)}))

    def _decisions(self, case: Case, aliases: dict[str, int]) -> list[dict[str, Any]]:
        decisions: list[dict[str, Any]] = []
        for decision in case.expected.decisions:
            alias = None
            if decision.memory is not None:
                alias = aliases.get(case.before[decision.memory])
                if alias is None:
                    self._note(f"{case.id}: memory {decision.memory!r} was not in the prompt")
                    continue
            decisions.append({"fact": decision.fact, "event": decision.event, "memory": alias})
        if case.id in self._wrong:
            decisions.append({"fact": INVENTED_FACT, "event": "ADD", "memory": None})
        return decisions

    def _refuse(self, problem: str) -> ChatAnswer:
        # An empty answer rather than an error: the service would retry an error for minutes,
        # while this answer fails the case at once (and ``problems`` says why).
        self._note(problem)
        return ChatAnswer(json.dumps({"decisions": []}))

    def _note(self, problem: str) -> None:
        with self._lock:
            self.problems.append(problem)


@dataclass(frozen=True)
class OracleRun:
    runs: list[CaseRun]
    llm_calls: int  # the requests the oracle answered
    problems: list[str]  # prompts it could not answer as labelled


def run_with_oracle(
    cases: list[Case],
    *,
    wrong: Iterable[str] = (),
    service_env: Mapping[str, str] | None = None,
    job_timeout_s: float = 60.0,
    progress: Callable[[CaseRun], None] | None = None,
) -> OracleRun:
    """Every case against a fresh service whose LLM is the oracle."""
    oracle = OracleLLM(cases, wrong)
    llm_env = {"MEMORY_LLM_BASE_URL": oracle.base_url, "MEMORY_LLM_MODEL": ORACLE_MODEL}
    try:
        runs = run_on_fresh_service(
            cases, {**(service_env or {}), **llm_env}, job_timeout_s, progress
        )
    finally:
        oracle.close()
    return OracleRun(runs, oracle.calls, list(oracle.problems))
