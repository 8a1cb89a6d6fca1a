"""The memory-update prompt: what the LLM is shown, and the strict shape of its answer.

Existing memories appear under short integer aliases, never their real ids, so the model
cannot name a memory it was not shown. What the application asks of the extraction
(instructions, includes, excludes, categories) travels as JSON data in the user message, like
the conversation, never spliced into the system prompt's own instructions.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Literal

import msgspec

from service.domain.adding.request import Turn
from service.domain.ports import JsonSchema
from service.models import Guidance, Memory

PROMPT_NAME = "memory_update_v2"
PROMPT_VERSION = "memory-update/2"


class Decision(msgspec.Struct, forbid_unknown_fields=True):
    fact: str
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    memory: int | None = None
    # Absent when the add offered no categories (the schema then has no such property).
    categories: list[str] = msgspec.field(default_factory=list)


class MemoryUpdateAnswer(msgspec.Struct, forbid_unknown_fields=True):
    decisions: list[Decision]


_DECISION_PROPERTIES: dict[str, Any] = {
    "fact": {"type": "string"},
    "event": {"type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"]},
    "memory": {"type": ["integer", "null"]},
}


def answer_schema(category_names: list[str]) -> JsonSchema:
    """The answer's schema; with categories, each decision lists some of them (a model held
    to the schema can name no other, and the pipeline drops any other all the same)."""
    properties = dict(_DECISION_PROPERTIES)
    if category_names:
        properties["categories"] = {
            "type": "array",
            "items": {"type": "string", "enum": category_names},
        }
    decision = {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
    }
    return JsonSchema(
        name="memory_update",
        schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["decisions"],
            "properties": {"decisions": {"type": "array", "items": decision}},
        },
    )


ANSWER_SCHEMA = answer_schema([])


def system_prompt(subject: str, *, preferences: bool = False, categories: bool = False) -> str:
    """The instructions, with the sections about preferences and categories only when the add
    has them: every add pays for its prompt's tokens."""
    shown = {"preferences": preferences, "categories": categories, "no-categories": not categories}
    text = _template()
    for section, show in shown.items():
        text = re.sub(
            rf"\[\[{section}\]\]\n(.*?)\[\[/{section}\]\]\n",
            r"\1" if show else "",
            text,
            flags=re.DOTALL,
        )
    return text.replace("{subject}", subject)


@cache
def _template() -> str:
    # Read once: a file replaced under a running process (an upgrade) must not break its adds.
    return resources.files("service.prompts").joinpath(f"{PROMPT_NAME}.md").read_text()


def user_prompt(
    turns: list[Turn],
    candidates: list[Memory],
    now: datetime | None = None,
    guidance: Guidance | None = None,
) -> str:
    times = [turn.timestamp for turn in turns if turn.timestamp is not None]
    today = max(times) if times else (now or datetime.now(UTC))
    prompt: dict[str, Any] = {"today": today.date().isoformat()}
    if guidance is not None:
        prompt.update(_guidance_json(guidance))
    prompt["existing_memories"] = [
        {"id": alias, "text": memory.text} for alias, memory in enumerate(candidates)
    ]
    prompt["conversation"] = [_prompt_turn(turn) for turn in turns]
    return json.dumps(prompt, ensure_ascii=False)


def _guidance_json(guidance: Guidance) -> dict[str, Any]:
    """Only what the add asks for: an add without options sees the prompt it always saw."""
    found: dict[str, Any] = {}
    if guidance.has_preferences:
        found["preferences"] = {
            key: value
            for key, value in (
                ("instructions", guidance.instructions),
                ("include", guidance.includes),
                ("exclude", guidance.excludes),
            )
            if value
        }
    if guidance.categories:
        found["categories"] = [
            {"name": category.name, "description": category.description}
            for category in guidance.categories
        ]
    return found


def _prompt_turn(turn: Turn) -> dict[str, Any]:
    """How the prompt shows a message: its own format, independent of how jobs store one."""
    return {
        "role": turn.role,
        "name": turn.name,
        "content": turn.content,
        "time": turn.timestamp.isoformat() if turn.timestamp else None,
    }
