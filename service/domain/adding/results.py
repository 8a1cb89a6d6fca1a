"""What an add gives back: what happened to each fact, the decisions refused, the LLM's cost."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.domain.ports import LlmUsage
from service.models import AddOutcome
from service.storage.jobs import JobSpend


@dataclass(frozen=True, slots=True)
class RejectedDecision:
    fact: str
    event: str
    reason: str


@dataclass(slots=True)
class AddResult:
    outcomes: list[AddOutcome] = field(default_factory=list)
    rejected: list[RejectedDecision] = field(default_factory=list)
    llm_used: bool = False
    usage: LlmUsage = field(default_factory=LlmUsage)
    prompt_version: str | None = None


def spend_of(usage: LlmUsage) -> JobSpend:
    """What a job stores of an add's usage: it counts across the job's attempts."""
    return JobSpend(usage.calls, usage.prompt_tokens, usage.completion_tokens)
