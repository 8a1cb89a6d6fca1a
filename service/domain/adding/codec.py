"""How a job stores its add: the domain's own JSON, versioned, independent of the HTTP answer
and of the prompt, so that changing either never changes stored data.

Version 1 is the shape jobs were stored in before the codec had a name (the fields were the
same; only ``version`` is new), so rows without a version read as version 1. Version 2 adds
what an add asks of the LLM (``guidance``) and the categories of memories. A release reads
every version up to its own and refuses a newer one by name, so that an older worker never
runs an add without the options it carries.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from service.domain.adding.request import AddRequest, Turn
from service.domain.adding.results import AddResult, RejectedDecision
from service.domain.ports import LlmUsage
from service.errors import MemoryServiceError
from service.models import AddOutcome, Category, Guidance, Memory, Scope

VERSION = 2


class UnknownJobFormat(MemoryServiceError):
    """A job was stored by a newer release than this one."""


def encode_request(request: AddRequest) -> dict[str, Any]:
    return {
        "version": VERSION,
        "scope": _scope_json(request.scope),
        "turns": [
            {"role": t.role, "name": t.name, "content": t.content, "time": _time(t.timestamp)}
            for t in request.turns
        ],
        "metadata": request.metadata,
        "expires_at": _time(request.expires_at),
        "guidance": _guidance_json(request.guidance),
    }


def decode_request(raw: dict[str, Any]) -> AddRequest:
    _check_version(raw)
    return AddRequest(
        Scope(**raw["scope"]),
        [
            Turn(t["role"], t["content"], t.get("name"), _parse_time(t.get("time")))
            for t in raw["turns"]
        ],
        raw["metadata"],
        infer=True,
        expires_at=_parse_time(raw.get("expires_at")),  # absent from jobs before expiry existed
        guidance=_guidance(raw.get("guidance")),  # absent from version 1
    )


def encode_result(result: AddResult) -> dict[str, Any]:
    return {
        "version": VERSION,
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
            "token_budget": result.usage.token_budget,
        },
        "prompt_version": result.prompt_version,
    }


def decode_result(raw: dict[str, Any]) -> AddResult:
    _check_version(raw)
    usage = raw["usage"]
    return AddResult(
        outcomes=[
            AddOutcome(item["event"], _memory(item["memory"]), item["fact"], item["previous_text"])
            for item in raw["results"]
        ],
        rejected=[RejectedDecision(r["fact"], r["event"], r["reason"]) for r in raw["rejected"]],
        llm_used=raw["llm_used"],
        usage=LlmUsage(
            usage["llm_calls"],
            usage["prompt_tokens"],
            usage["completion_tokens"],
            usage["llm_latency_ms"],
            usage.get("token_budget"),  # absent from results stored before budgets
        ),
        prompt_version=raw["prompt_version"],
    )


def _check_version(raw: dict[str, Any]) -> None:
    version = raw.get("version", 1)
    if version not in range(1, VERSION + 1):
        raise UnknownJobFormat(
            f"a job was stored in format {version}, which this release does not read; "
            "run the release that stored it, or a newer one"
        )


def _scope_json(scope: Scope) -> dict[str, str | None]:
    return {"user_id": scope.user_id, "agent_id": scope.agent_id, "run_id": scope.run_id}


def _memory_json(memory: Memory) -> dict[str, Any]:
    return {
        "id": str(memory.id),
        "text": memory.text,
        **_scope_json(memory.scope),
        "metadata": memory.metadata,
        "created_at": memory.created_at.isoformat(),
        "updated_at": memory.updated_at.isoformat(),
        "expires_at": _time(memory.expires_at),
        "categories": list(memory.categories),
    }


def _memory(raw: dict[str, Any]) -> Memory:
    created_at = _parse_time(raw["created_at"])
    updated_at = _parse_time(raw["updated_at"])
    assert created_at is not None and updated_at is not None  # noqa: S101  # always stored
    return Memory(
        uuid.UUID(raw["id"]),
        raw["text"],
        Scope(raw["user_id"], raw["agent_id"], raw["run_id"]),
        raw["metadata"],
        created_at,
        updated_at,
        _parse_time(raw.get("expires_at")),
        tuple(raw.get("categories", ())),  # absent from version 1
    )


def _guidance_json(guidance: Guidance) -> dict[str, Any]:
    return {
        "instructions": guidance.instructions,
        "includes": guidance.includes,
        "excludes": guidance.excludes,
        "categories": [{"name": c.name, "description": c.description} for c in guidance.categories],
    }


def _guidance(raw: dict[str, Any] | None) -> Guidance:
    if raw is None:
        return Guidance()
    return Guidance(
        raw["instructions"],
        raw["includes"],
        raw["excludes"],
        tuple(Category(c["name"], c["description"]) for c in raw["categories"]),
    )


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    value = datetime.fromisoformat(raw)
    # Jobs queued before timestamps needed a timezone may hold naive ones: read as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
