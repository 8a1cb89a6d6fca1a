"""Request and response bodies of the native API. Docstrings become OpenAPI descriptions."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from service.models import HistoryEvent, Memory, SearchHit

ScopeId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=255,
        description="Identifier chosen by your application.",
        examples=["alice"],
    ),
]
MemoryText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        description="The memory, as plain text. Length limit: MEMORY_MAX_TEXT_CHARS.",
        examples=["Alice is allergic to peanuts."],
    ),
]
MetadataObject = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description="Free-form JSON object stored with the memory and usable in filters.",
        examples=[{"category": "health"}],
    ),
]
FilterObject = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description=(
            "Filter expression: {field: value} for equality, {field: {op: value}} with op in "
            'eq, ne, gt, gte, lt, lte, in, nin, contains, and {"AND"|"OR": [...]}, '
            '{"NOT": {...}} groups. Fields: user_id, agent_id, run_id, created_at, '
            "updated_at, or a metadata key (also as metadata.<key>)."
        ),
        examples=[{"AND": [{"category": "health"}, {"priority": {"gte": 2}}]}],
    ),
]


class Problem(msgspec.Struct, omit_defaults=True):
    """An error, as RFC 9457 problem details (media type application/problem+json)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class FieldError(msgspec.Struct):
    """One invalid part of the request."""

    message: str
    key: str | None = None
    source: str | None = None


class ChatMessage(msgspec.Struct, forbid_unknown_fields=True):
    """One turn of a conversation."""

    role: Literal["system", "user", "assistant"]
    content: MemoryText
    name: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    timestamp: datetime | None = None


class AddMemoryRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Remember a text, or what was said in a list of chat messages.

    Give exactly one of ``text`` and ``messages``, and at least one of ``user_id``,
    ``agent_id``, ``run_id``. With ``infer`` true (the default) and no LLM configured, the
    user's messages are stored and texts nearly identical to a stored memory are skipped; with
    ``infer`` false every message except system ones is stored as given.
    """

    text: MemoryText | None = None
    messages: list[ChatMessage] | None = None
    user_id: ScopeId | None = None
    agent_id: ScopeId | None = None
    run_id: ScopeId | None = None
    metadata: MetadataObject = msgspec.field(default_factory=dict)
    infer: bool = True
    async_: Annotated[
        bool,
        msgspec.Meta(
            description="Answer 202 with a job at once and extract in the background "
            "(needs infer and a configured LLM). GET /v1/jobs/{id} gives the outcome."
        ),
    ] = msgspec.field(default=False, name="async")


class BatchItem(msgspec.Struct, forbid_unknown_fields=True):
    """One memory of a batch add."""

    text: MemoryText
    user_id: ScopeId | None = None
    agent_id: ScopeId | None = None
    run_id: ScopeId | None = None
    metadata: MetadataObject = msgspec.field(default_factory=dict)


class BatchAddRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Remember many texts in one request (at most MEMORY_MAX_BATCH_ITEMS)."""

    items: list[BatchItem]
    infer: bool = False


class UpdateMemoryRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Replace a memory's text (it is re-embedded) and/or its whole metadata object."""

    text: MemoryText | None = None
    metadata: MetadataObject | None = None


class SearchRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Find the memories of a scope closest in meaning to ``query``."""

    query: Annotated[str, msgspec.Meta(min_length=1, examples=["What can't Alice eat?"])]
    user_id: ScopeId | None = None
    agent_id: ScopeId | None = None
    run_id: ScopeId | None = None
    filters: FilterObject | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    threshold: (
        Annotated[
            float, msgspec.Meta(ge=-1.0, le=1.0, description="Lowest cosine similarity returned.")
        ]
        | None
    ) = None
    mode: Annotated[
        Literal["vector", "keyword", "hybrid"],
        msgspec.Meta(
            description="vector: meaning only; keyword: full-text match of the query's words; "
            "hybrid (default): both rankings fused (reciprocal-rank fusion)."
        ),
    ] = "hybrid"


class MemoryOut(msgspec.Struct):
    """A stored memory."""

    id: uuid.UUID
    text: str
    user_id: str | None
    agent_id: str | None
    run_id: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, memory: Memory) -> MemoryOut:
        return cls(
            id=memory.id,
            text=memory.text,
            user_id=memory.scope.user_id,
            agent_id=memory.scope.agent_id,
            run_id=memory.scope.run_id,
            metadata=memory.metadata,
            created_at=memory.created_at,
            updated_at=memory.updated_at,
        )


class AddResult(msgspec.Struct):
    """What happened to one fact or text.

    ADD stored it; UPDATE replaced ``previous_text`` of ``memory``; DELETE removed ``memory``
    (it contradicted the fact); NONE found it already remembered as ``memory``.
    """

    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    memory: MemoryOut
    fact: str | None = None
    previous_text: str | None = None


class RejectedDecision(msgspec.Struct):
    """An LLM decision that broke the reconciliation rules and was not applied."""

    fact: str
    event: str
    reason: str


class LlmUsageOut(msgspec.Struct):
    """What the LLM cost for this add (every attempt counts as a call)."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    llm_latency_ms: float


class AddMemoryResponse(msgspec.Struct):
    """The outcome of an add, one result per fact or text considered."""

    results: list[AddResult]
    llm_used: bool
    rejected: list[RejectedDecision] = msgspec.field(default_factory=list)
    usage: LlmUsageOut | None = None
    prompt_version: str | None = None


class IngestJob(msgspec.Struct):
    """An add processed in the background. ``result`` is set once ``status`` is done."""

    id: uuid.UUID
    status: Literal["queued", "running", "done", "failed"]
    attempts: int
    last_error: str | None
    result: AddMemoryResponse | None
    created_at: datetime
    updated_at: datetime


class MemoryList(msgspec.Struct):
    """One page of memories, newest first. Pass ``next_cursor`` back as ``cursor``."""

    memories: list[MemoryOut]
    next_cursor: str | None


class DeleteScopeResponse(msgspec.Struct):
    """How many memories were deleted."""

    deleted: int


class HistoryEventOut(msgspec.Struct):
    """One change to a memory."""

    id: int
    memory_id: uuid.UUID
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    old_text: str | None
    new_text: str | None
    old_metadata: dict[str, Any] | None
    new_metadata: dict[str, Any] | None
    actor: str
    created_at: datetime

    @classmethod
    def of(cls, event: HistoryEvent) -> HistoryEventOut:
        return cls(**dataclasses.asdict(event))


class MemoryHistory(msgspec.Struct):
    """Every change to one memory, oldest first."""

    events: list[HistoryEventOut]


class SearchResult(msgspec.Struct):
    """A memory and its cosine similarity to the query (1 is identical)."""

    score: float
    memory: MemoryOut

    @classmethod
    def of(cls, hit: SearchHit) -> SearchResult:
        return cls(score=round(hit.score, 6), memory=MemoryOut.of(hit.memory))


class SearchResponse(msgspec.Struct):
    """Results, most relevant first (``score`` is each one's cosine similarity to the query).

    ``strategy`` says whether the scope was ranked exactly or through the vector index.
    """

    results: list[SearchResult]
    strategy: Literal["exact", "hnsw"]
    mode: Literal["vector", "keyword", "hybrid"]


class Health(msgspec.Struct, omit_defaults=True):
    """Liveness or readiness."""

    status: str
    database: bool | None = None
    model: bool | None = None
