"""The memory-update prompt: what the LLM is shown, and the strict shape of its answer.

Existing memories appear under short integer aliases, never their real ids, so the model
cannot name a memory it was not shown.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal

import msgspec

from service.domain.adding.request import Turn
from service.domain.ports import JsonSchema
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
            "conversation": [_prompt_turn(turn) for turn in turns],
        },
        ensure_ascii=False,
    )


def _prompt_turn(turn: Turn) -> dict[str, Any]:
    """How the prompt shows a message: its own format, independent of how jobs store one."""
    return {
        "role": turn.role,
        "name": turn.name,
        "content": turn.content,
        "time": turn.timestamp.isoformat() if turn.timestamp else None,
    }
