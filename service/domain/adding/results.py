"""What an add takes in and gives back: the request stored with a job, the outcome per fact,
and the JSON form of the outcome (stored with a finished job, same shape as the HTTP answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from service.adapters.llm import LlmUsage
from service.domain.memories import remembered_roles
from service.domain.prompting import Turn
from service.models import Memory, Metadata, Scope

Event = Literal["ADD", "UPDATE", "DELETE", "NONE"]


@dataclass(frozen=True, slots=True)
class IngestRequest:
    scope: Scope
    turns: list[Turn]
    metadata: Metadata
    expires_at: datetime | None = None  # of the memories this add creates

    @property
    def told_at(self) -> datetime | None:
        """When the conversation happened (its latest turn's time, if the turns carry times):
        the time the facts drawn from it are remembered at."""
        return max((turn.timestamp for turn in self.turns if turn.timestamp), default=None)

    @property
    def user_texts(self) -> list[str]:
        """What the user said: the only turns facts are drawn from."""
        roles = remembered_roles(infer=True)
        return [turn.content for turn in self.turns if turn.role in roles]

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": {
                "user_id": self.scope.user_id,
                "agent_id": self.scope.agent_id,
                "run_id": self.scope.run_id,
            },
            "turns": [turn.to_json() for turn in self.turns],
            "metadata": self.metadata,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> IngestRequest:
        expires_at = raw.get("expires_at")  # absent from jobs stored before expiry existed
        return cls(
            Scope(**raw["scope"]),
            [Turn.from_json(t) for t in raw["turns"]],
            raw["metadata"],
            datetime.fromisoformat(expires_at) if expires_at else None,
        )


@dataclass(frozen=True, slots=True)
class FactOutcome:
    event: Event
    memory: Memory
    fact: str | None = None
    previous_text: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedDecision:
    fact: str
    event: str
    reason: str


@dataclass(slots=True)
class IngestResult:
    outcomes: list[FactOutcome] = field(default_factory=list)
    rejected: list[RejectedDecision] = field(default_factory=list)
    llm_used: bool = False
    usage: LlmUsage = field(default_factory=LlmUsage)
    prompt_version: str | None = None


def _memory_json(memory: Memory) -> dict[str, Any]:
    return {
        "id": str(memory.id),
        "text": memory.text,
        "user_id": memory.scope.user_id,
        "agent_id": memory.scope.agent_id,
        "run_id": memory.scope.run_id,
        "metadata": memory.metadata,
        "created_at": memory.created_at.isoformat(),
        "updated_at": memory.updated_at.isoformat(),
        "expires_at": memory.expires_at.isoformat() if memory.expires_at else None,
    }


def result_to_json(result: IngestResult) -> dict[str, Any]:
    """The add response, as stored with a finished job (same shape as the HTTP answer)."""
    return {
        "results": [
            {
                "event": outcome.event,
                "memory": _memory_json(outcome.memory),
                "fact": outcome.fact,
                "previous_text": outcome.previous_text,
            }
            for outcome in result.outcomes
        ],
        "rejected": [
            {"fact": r.fact, "event": r.event, "reason": r.reason} for r in result.rejected
        ],
        "llm_used": result.llm_used,
        "usage": {
            "llm_calls": result.usage.calls,
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "llm_latency_ms": round(result.usage.latency_ms, 2),
        },
        "prompt_version": result.prompt_version,
    }
