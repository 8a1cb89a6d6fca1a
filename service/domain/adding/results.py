"""What an add gives back: what happened to each fact, the decisions refused, the LLM's cost."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.domain.ports import LlmUsage
from service.models import AddOutcome


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
