"""Request and response bodies of the Mem0 platform API, as its official SDK sends and reads
them. Fields the SDK may send that this service cannot honour are declared so that a request
using them answers 501 naming the feature (see ``translate.refuse_unsupported``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from service.models import FeedbackValue

EntityId = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
MAX_BATCH = 1000
# Mem0's custom categories: [{"name": "description"}, ...]; a bare name is also read.
Mem0Categories = list[dict[str, str] | str]


class Mem0Message(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["system", "user", "assistant"]
    content: str
    name: Annotated[str, msgspec.Meta(max_length=255)] | None = None


class _Common(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What add, search and list bodies share: the entity ids, and fields some SDK versions
    send that mean nothing here (accepted and ignored)."""

    user_id: EntityId | None = None
    agent_id: EntityId | None = None
    run_id: EntityId | None = None
    app_id: str | None = None  # not supported: 501 when given
    async_mode: bool | None = None
    version: str | None = None
    output_format: str | None = None
    org_id: str | None = None
    project_id: str | None = None


class AddBody(_Common, forbid_unknown_fields=True, kw_only=True):
    messages: list[Mem0Message] = msgspec.field(default_factory=list)
    filters: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    infer: bool = True
    async_mode: bool = False
    expiration_date: str | None = None
    timestamp: int | float | None = None  # Unix seconds: when the conversation was told
    # What the LLM is asked (the project's settings when not given):
    custom_instructions: str | None = None
    custom_categories: Mem0Categories | None = None
    includes: str | None = None
    excludes: str | None = None
    # Not supported (501 when given a value):
    agent_custom_instructions: Any = None
    structured_data_schema: Any = None
    enable_graph: Any = None
    immutable: Any = None


class SearchBody(_Common, forbid_unknown_fields=True, kw_only=True):
    query: Annotated[str, msgspec.Meta(min_length=1)]
    filters: dict[str, Any] | None = None
    top_k: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    threshold: Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)] | None = None
    metadata: dict[str, Any] | None = None
    keyword_search: bool | None = None  # keywords always count: search is hybrid
    latest_only: bool | None = None  # always true: replaced memories are not kept as rows
    categories: list[str] | None = None  # memories with any of these categories
    # Not supported (501 when given a value):
    rerank: Any = None
    fields: Any = None
    show_expired: Any = None
    reference_date: Any = None
    enable_graph: Any = None


class ListBody(_Common, forbid_unknown_fields=True, kw_only=True):
    filters: dict[str, Any] | None = None
    start_date: str | None = None
    end_date: str | None = None
    top_k: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    latest_only: bool | None = None
    categories: list[str] | None = None  # memories with any of these categories
    # Not supported (501 when given a value):
    show_expired: Any = None
    keywords: Any = None
    enable_graph: Any = None


class UpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    text: str | None = None
    metadata: dict[str, Any] | None = None
    expiration_date: str | msgspec.UnsetType | None = msgspec.UNSET  # null: never expires
    # Not supported (501 when given a value):
    timestamp: Any = None


class BatchUpdateItem(msgspec.Struct, forbid_unknown_fields=True):
    memory_id: uuid.UUID
    text: str | None = None
    metadata: dict[str, Any] | None = None


class BatchUpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    memories: Annotated[list[BatchUpdateItem], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class BatchDeleteItem(msgspec.Struct, forbid_unknown_fields=True):
    memory_id: uuid.UUID


class BatchDeleteBody(msgspec.Struct, forbid_unknown_fields=True):
    memories: Annotated[list[BatchDeleteItem], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class FeedbackBody(msgspec.Struct, forbid_unknown_fields=True):
    memory_id: uuid.UUID
    feedback: FeedbackValue | None = None
    feedback_reason: str | None = None


# --- responses ------------------------------------------------------------------------------


class Mem0Memory(msgspec.Struct):
    id: uuid.UUID
    memory: str
    user_id: str | None
    agent_id: str | None
    run_id: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    app_id: None = None
    categories: list[str] = msgspec.field(default_factory=list)
    immutable: bool = False
    expiration_date: str | None = None
    score: float | None = None


class Mem0AddResult(msgspec.Struct):
    id: uuid.UUID
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    memory: str
    user_id: str | None
    agent_id: str | None
    run_id: str | None
    metadata: dict[str, Any]
    previous_memory: str | None = None
    categories: list[str] = msgspec.field(default_factory=list)


class Mem0Queued(msgspec.Struct):
    """An add left to a background job; ``event_id`` is the job id (GET /v1/jobs/{id}).
    PENDING while it waits or runs; FAILED when it met a failure a retry would meet again
    (the message says which; POST /v1/jobs/{id}/retry runs it again)."""

    message: str
    status: Literal["PENDING", "FAILED"]
    event_id: uuid.UUID


class Mem0AddResponse(msgspec.Struct):
    results: list[Mem0AddResult | Mem0Queued]


class Mem0Results(msgspec.Struct):
    results: list[Mem0Memory]


class Mem0Page(msgspec.Struct):
    count: int
    next: str | None
    previous: str | None
    results: list[Mem0Memory]


class Mem0HistoryEntry(msgspec.Struct):
    id: str
    memory_id: uuid.UUID
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    old_memory: str | None
    new_memory: str | None
    metadata: dict[str, Any] | None
    actor: str
    created_at: datetime
    updated_at: datetime
    input: list[dict[str, Any]] = msgspec.field(default_factory=list)


class Mem0Entity(msgspec.Struct):
    id: str
    name: str
    type: Literal["user", "agent", "run"]
    total_memories: int
    created_at: datetime
    updated_at: datetime
    owner: None = None
    organization: None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class Mem0Entities(msgspec.Struct):
    count: int
    next: None
    previous: None
    results: list[Mem0Entity]


class Mem0Done(msgspec.Struct):
    """What a change did, in words (the SDK returns it as is)."""

    message: str


class Mem0Ping(msgspec.Struct):
    """The SDK needs an organisation and a project; both are the key's tenant here."""

    status: str
    org_id: str
    project_id: str
    user_email: None = None


class Mem0Feedback(msgspec.Struct):
    id: str
    memory_id: uuid.UUID
    feedback: FeedbackValue | None
    feedback_reason: str | None
