"""Plain value types shared by every layer (no I/O, no HTTP, no SQL)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
JSONValue = Any
Metadata = dict[str, Any]
HistoryEventKind = Literal["ADD", "UPDATE", "DELETE", "NONE"]
SCOPE_FIELDS = ("user_id", "agent_id", "run_id")
EntityKind = Literal["user", "agent", "run"]
FeedbackValue = Literal["POSITIVE", "NEGATIVE", "VERY_NEGATIVE"]
VectorWeights = Literal["float", "int8"]  # the precision of the weights that made a vector
# Every time the service stores (created_at, updated_at, expires_at) lies in
# [EARLIEST_TIME, LATEST_TIME): service.domain.times checks what comes in against it.
EARLIEST_TIME = datetime(1000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class VectorSpace:
    """What makes two stored vectors comparable: the same model, at the same precision, fed
    documents behind the same prompt. Vectors from two spaces must not share a column."""

    model: str
    dimensions: int
    weights: VectorWeights = "float"
    document_prompt: str = ""

    def describe(self) -> str:
        prompt = f", document prompt {self.document_prompt!r}" if self.document_prompt else ""
        return (
            f"model {self.model!r} ({self.dimensions} dimensions, {self.weights} weights{prompt})"
        )


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a memory is about. A query scope matches every memory sharing its given ids."""

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.user_id is None and self.agent_id is None and self.run_id is None

    @property
    def key(self) -> str:
        """One string per exact scope (JSON, so no id can make two scopes look alike)."""
        return json.dumps([self.user_id, self.agent_id, self.run_id])

    @classmethod
    def of_entity(cls, kind: EntityKind, name: str) -> Scope:
        """Every memory of one user, agent or run."""
        return cls(**{f"{kind}_id": name})

    def items(self) -> list[tuple[str, str]]:
        """The given (field, value) pairs, in a fixed order."""
        values = (self.user_id, self.agent_id, self.run_id)
        return [
            (name, value)
            for name, value in zip(SCOPE_FIELDS, values, strict=True)
            if value is not None
        ]


@dataclass(frozen=True, slots=True)
class Memory:
    id: uuid.UUID
    text: str
    scope: Scope
    metadata: Metadata
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None  # never returned after this
    categories: tuple[str, ...] = ()  # labels the LLM chose from the add's categories


@dataclass(frozen=True, slots=True)
class NewMemory:
    text: str
    content_hash: bytes
    embedding: Vector
    scope: Scope
    metadata: Metadata
    expires_at: datetime | None = None
    created_at: datetime | None = None  # None: now (set by imports, which keep the original)
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AddOutcome:
    """What an add did to one memory: stored it (ADD), found it already there (NONE), or,
    deciding on a fact drawn from a conversation (``fact``), changed or removed it (UPDATE,
    DELETE; ``previous_text`` is the text it had)."""

    event: HistoryEventKind
    memory: Memory
    fact: str | None = None
    previous_text: str | None = None


@dataclass(frozen=True, slots=True)
class Category:
    """A label a memory may carry, and what it means (the LLM reads the description)."""

    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Guidance:
    """What an application asks of the extraction of one add (Mem0's ``custom_instructions``,
    ``includes``, ``excludes`` and ``custom_categories``). The prompt carries it as data."""

    instructions: str | None = None
    includes: str | None = None
    excludes: str | None = None
    categories: tuple[Category, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self == Guidance()

    @property
    def has_preferences(self) -> bool:
        return bool(self.instructions or self.includes or self.excludes)


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """A tenant's defaults for the adds that give none (Mem0's project settings)."""

    instructions: str | None = None
    categories: tuple[Category, ...] = ()


@dataclass(frozen=True, slots=True)
class Tenant:
    """Who owns data: every row and every query belongs to one tenant."""

    id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    id: int
    memory_id: uuid.UUID
    event: HistoryEventKind
    old_text: str | None
    new_text: str | None
    old_metadata: Metadata | None
    new_metadata: Metadata | None
    actor: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Entity:
    """A user, agent or run id that has memories."""

    kind: EntityKind
    name: str
    memory_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SearchHit:
    memory: Memory
    similarity: float  # cosine to the query (the response's ``score``)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A memory one ranking found, before its text is read: what fusing rankings needs. Only
    the memories a search returns are then read whole."""

    id: uuid.UUID
    created_at: datetime
    similarity: float  # cosine to the query


@dataclass(frozen=True, slots=True)
class Bm25Parameters:
    """Okapi BM25's term-frequency saturation (k1) and length normalisation (b), as set by
    ``MEMORY_HYBRID_BM25_K1`` and ``MEMORY_HYBRID_BM25_B``."""

    k1: float
    b: float


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a client said about a memory it was given."""

    id: int
    memory_id: uuid.UUID
    feedback: FeedbackValue | None
    reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Keyset position in the newest-first listing order."""

    created_at: datetime
    id: uuid.UUID


# --- the filter language, parsed (see service.domain.filters) -----------------------------

Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains"]
BUILTIN_FILTER_FIELDS = (
    "user_id",
    "agent_id",
    "run_id",
    "created_at",
    "updated_at",
    "categories",
)


@dataclass(frozen=True, slots=True)
class Condition:
    """``field operator value``; ``field`` is a built-in column or a metadata key."""

    field: str
    operator: Operator
    value: JSONValue
    is_builtin: bool


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[FilterNode, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[FilterNode, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    item: FilterNode


FilterNode = Condition | AllOf | AnyOf | Negation
