"""The wire shapes of adds (POST /v1/memories and /v1/memories/batch): the request, and what
happened to each fact or text. Docstrings become OpenAPI descriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.api.schemas import (
    CreatedAt,
    ExpiresAt,
    MemoryOut,
    MemoryText,
    MetadataObject,
    ScopeId,
)
from service.domain.guidance import (
    MAX_CATEGORIES,
    MAX_CATEGORY_DESCRIPTION_CHARS,
    MAX_CATEGORY_NAME_CHARS,
    MAX_INCLUDES_CHARS,
    MAX_INSTRUCTIONS_CHARS,
)
from service.domain.times import TIME_RANGE


class CategoryIn(msgspec.Struct, forbid_unknown_fields=True):
    """A category the LLM may label a memory with."""

    name: Annotated[
        str,
        msgspec.Meta(
            description=f"The label (1-{MAX_CATEGORY_NAME_CHARS} characters, unique ignoring "
            "case): what memories carry in categories and filters compare.",
            examples=["health"],
        ),
    ]
    description: Annotated[
        str,
        msgspec.Meta(
            description=f"What it covers, for the LLM (at most {MAX_CATEGORY_DESCRIPTION_CHARS} "
            "characters).",
            examples=["Allergies, illnesses, medication, fitness"],
        ),
    ] = ""


class ChatMessage(msgspec.Struct, forbid_unknown_fields=True):
    """One turn of a conversation."""

    role: Annotated[
        Literal["system", "user", "assistant"],
        msgspec.Meta(description="Who spoke. System turns are never remembered."),
    ]
    content: MemoryText
    name: (
        Annotated[str, msgspec.Meta(max_length=255, description="Optional speaker name.")] | None
    ) = None
    timestamp: (
        Annotated[
            datetime,
            msgspec.Meta(
                tz=True,
                description=f"When it was said (ISO 8601 with a timezone, {TIME_RANGE}): the "
                "created_at of what is remembered from it. Defaults to the request's created_at, "
                "then now.",
            ),
        ]
        | None
    ) = None


class AddMemoryRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Remember a text, or what was said in a list of chat messages.

    Give exactly one of ``text`` and ``messages``, and at least one of ``user_id``,
    ``agent_id``, ``run_id``. With ``infer`` true (the default) and no LLM configured, the
    user's messages are stored and texts nearly identical to a stored memory are skipped; with
    ``infer`` false every message except system ones is stored as given.
    """

    text: MemoryText | None = None
    messages: Annotated[
        list[ChatMessage] | None,
        msgspec.Meta(description="Chat turns to learn from (give this or text)."),
    ] = None
    user_id: ScopeId | None = None
    agent_id: ScopeId | None = None
    run_id: ScopeId | None = None
    metadata: MetadataObject = msgspec.field(default_factory=dict)
    expires_at: ExpiresAt | None = None
    created_at: CreatedAt | None = None
    infer: Annotated[
        bool,
        msgspec.Meta(
            description="Extract facts with the LLM (when configured) and skip "
            "near-duplicates; false stores each text as given."
        ),
    ] = True
    async_: Annotated[
        bool,
        msgspec.Meta(
            description="Answer 202 with a job at once and extract in the background "
            "(needs infer and a configured LLM). GET /v1/jobs/{id} gives the outcome."
        ),
    ] = msgspec.field(default=False, name="async")
    custom_instructions: Annotated[
        str | None,
        msgspec.Meta(
            description="How the LLM should choose and word the facts it extracts (at most "
            f"{MAX_INSTRUCTIONS_CHARS} characters). Defaults to the project's (the Mem0 "
            "dialect's project settings). Used only when the LLM runs; it never changes the "
            "rules of reconciliation.",
            examples=["Remember only food preferences and allergies."],
        ),
    ] = None
    includes: Annotated[
        str | None,
        msgspec.Meta(
            description=f"What the LLM should focus on (at most {MAX_INCLUDES_CHARS} characters).",
            examples=["dietary restrictions"],
        ),
    ] = None
    excludes: Annotated[
        str | None,
        msgspec.Meta(
            description=f"What the LLM should never remember (at most {MAX_INCLUDES_CHARS} "
            "characters).",
            examples=["credit card numbers"],
        ),
    ] = None
    custom_categories: Annotated[
        list[CategoryIn] | None,
        msgspec.Meta(
            description=f"The categories (at most {MAX_CATEGORIES}) the LLM labels each new "
            "or changed memory with, in the same call; defaults to the project's. Names the "
            "LLM invents are dropped and listed in rejected.",
        ),
    ] = None


class BatchItem(msgspec.Struct, forbid_unknown_fields=True):
    """One memory of a batch add."""

    text: MemoryText
    user_id: ScopeId | None = None
    agent_id: ScopeId | None = None
    run_id: ScopeId | None = None
    metadata: MetadataObject = msgspec.field(default_factory=dict)
    expires_at: ExpiresAt | None = None
    created_at: CreatedAt | None = None


class BatchAddRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Remember many texts in one request (at most MEMORY_MAX_BATCH_ITEMS)."""

    items: Annotated[list[BatchItem], msgspec.Meta(description="The memories to add, in order.")]
    infer: Annotated[
        bool, msgspec.Meta(description="Skip texts nearly identical to a stored memory.")
    ] = False


class AddResult(msgspec.Struct):
    """What happened to one fact or text.

    ADD stored it; UPDATE replaced ``previous_text`` of ``memory``; DELETE removed ``memory``
    (it contradicted the fact); NONE found it already remembered as ``memory``.
    """

    event: Annotated[
        Literal["ADD", "UPDATE", "DELETE", "NONE"],
        msgspec.Meta(description="ADD, UPDATE, DELETE or NONE."),
    ]
    memory: MemoryOut
    fact: Annotated[
        str | None, msgspec.Meta(description="The fact the LLM extracted, when one was.")
    ] = None
    previous_text: Annotated[
        str | None, msgspec.Meta(description="The memory's text before an UPDATE.")
    ] = None


class RejectedDecision(msgspec.Struct):
    """An LLM decision, or a part of one, that broke the rules and was not applied.

    A decision that broke the reconciliation rules; or a category the add did not offer,
    dropped from a fact that was applied without it.
    """

    fact: Annotated[str, msgspec.Meta(description="The fact the LLM proposed.")]
    event: Annotated[str, msgspec.Meta(description="What it proposed to do.")]
    reason: Annotated[str, msgspec.Meta(description="Why it was not applied.")]


class LlmUsageOut(msgspec.Struct):
    """What the LLM cost for this add: every attempt and every retry of its job counts."""

    llm_calls: Annotated[int, msgspec.Meta(description="LLM requests made (every retry counts).")]
    prompt_tokens: Annotated[int, msgspec.Meta(description="Prompt tokens, as the LLM reported.")]
    completion_tokens: Annotated[
        int, msgspec.Meta(description="Completion tokens, as the LLM reported.")
    ]
    llm_latency_ms: Annotated[float, msgspec.Meta(description="Time spent waiting for the LLM.")]
    token_budget: Annotated[
        int | None,
        msgspec.Meta(
            description="Most tokens this add may spend in all (MEMORY_LLM_TOKEN_BUDGET_PER_ADD); "
            "null when no LLM was involved."
        ),
    ] = None


class AddMemoryResponse(msgspec.Struct):
    """The outcome of an add, one result per fact or text considered."""

    results: Annotated[
        list[AddResult], msgspec.Meta(description="One entry per fact or text considered.")
    ]
    llm_used: Annotated[
        bool, msgspec.Meta(description="Whether an LLM call was made for this add.")
    ]
    rejected: Annotated[
        list[RejectedDecision],
        msgspec.Meta(
            description="LLM decisions, or categories of them, that broke the rules and were "
            "not applied."
        ),
    ] = msgspec.field(default_factory=list)
    usage: LlmUsageOut | None = None
    prompt_version: Annotated[
        str | None,
        msgspec.Meta(description="Version of the prompt the LLM was given, when one was called."),
    ] = None
