"""The memory-update prompt: what the LLM is shown, and the strict shape of its answer.

Existing memories appear under short integer aliases, never their real ids, so the model
cannot name a memory it was not shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal

import msgspec

from service.adapters.llm import JsonSchema
from service.models import Memory

PROMPT_NAME = "memory_update_v1"
PROMPT_VERSION = "memory-update/1"


class Decision(msgspec.Struct, forbid_unknown_fields=True):
    fact: str
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    memory: int | None = None


class MemoryUpdateAnswer(msgspec.Struct, forbid_unknown_fields=True):
    decisions: list[Decision]


ANSWER_SCHEMA = JsonSchema(
    name="memory_update",
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["decisions"],
        "properties": {
            "decisions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["fact", "event", "memory"],
                    "properties": {
                        "fact": {"type": "string"},
                        "event": {"type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"]},
                        "memory": {"type": ["integer", "null"]},
                    },
                },
            }
        },
    },
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One chat message as the pipeline sees it."""

    role: str
    content: str
    name: str | None = None
    timestamp: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "name": self.name,
            "content": self.content,
            "time": self.timestamp.isoformat() if self.timestamp else None,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Turn:
        time = datetime.fromisoformat(raw["time"]) if raw.get("time") else None
        if time is not None and time.tzinfo is None:
            # Jobs queued before timestamps needed a timezone may hold naive ones: read as UTC.
            time = time.replace(tzinfo=UTC)
        return cls(raw["role"], raw["content"], raw.get("name"), time)


def system_prompt(subject: str) -> str:
    template = resources.files("service.prompts").joinpath(f"{PROMPT_NAME}.md").read_text()
    return template.replace("{subject}", subject)


def user_prompt(turns: list[Turn], candidates: list[Memory], now: datetime | None = None) -> str:
    times = [turn.timestamp for turn in turns if turn.timestamp is not None]
    today = max(times) if times else (now or datetime.now(UTC))
    return json.dumps(
        {
            "today": today.date().isoformat(),
            "existing_memories": [
                {"id": alias, "text": memory.text} for alias, memory in enumerate(candidates)
            ],
            "conversation": [turn.to_json() for turn in turns],
        },
        ensure_ascii=False,
    )
