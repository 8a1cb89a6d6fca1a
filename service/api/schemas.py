"""Request and response bodies of the native API. Docstrings become OpenAPI descriptions."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from service.domain.times import TIME_RANGE
from service.models import HistoryEvent, Memory

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
            "updated_at, categories, or a metadata key (also as metadata.<key>). created_at "
            f"and updated_at compare with ISO 8601 times with a timezone {TIME_RANGE}. "
            "categories takes contains (or eq) and ne with a name, in and nin with names. "
            "Equality with an array or an object compares the whole value."
        ),
        examples=[{"AND": [{"category": "health"}, {"priority": {"gte": 2}}]}],
    ),
]


CreatedAt = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        description="When the memory was told (ISO 8601 with a timezone, not in the future, "
        f"{TIME_RANGE}); set it when importing past conversations, so that listings and "
        "searches naming a date place it right. Defaults to now.",
        examples=["2023-05-08T13:56:00Z"],
    ),
]
ExpiresAt = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        description="When the memory expires: it is never returned after this (ISO 8601 with "
        f"a timezone, {TIME_RANGE}) and is purged soon after.",
        examples=["2030-01-31T00:00:00Z"],
    ),
]


class Problem(msgspec.Struct, omit_defaults=True):
    """An error, as RFC 9457 problem details (media type application/problem+json)."""

    type: Annotated[
        str,
        msgspec.Meta(
            description="A URI naming the kind of problem (about:blank: the status says it)."
        ),
    ]
    title: Annotated[str, msgspec.Meta(description="The status, in words.")]
    status: Annotated[int, msgspec.Meta(description="The HTTP status code.")]
    detail: Annotated[str, msgspec.Meta(description="What went wrong and what to do about it.")]
    instance: Annotated[str | None, msgspec.Meta(description="The path of the request.")] = None
    request_id: Annotated[
        str | None,
        msgspec.Meta(description="Quote this when reporting a problem (also in X-Request-ID)."),
    ] = None
    errors: Annotated[
        list[FieldError] | None,
        msgspec.Meta(description="The invalid parts of the request, when there are several."),
    ] = None


class FieldError(msgspec.Struct):
    """One invalid part of the request."""

    message: Annotated[str, msgspec.Meta(description="What is wrong with this part.")]
    key: Annotated[
        str | None, msgspec.Meta(description="The field, header or parameter at fault.")
    ] = None
    source: Annotated[
        str | None, msgspec.Meta(description="Where it was: body, query, path or header.")
    ] = None


class UpdateMemoryRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Replace a memory's text (it is re-embedded), its whole metadata object and/or its
    expiry (``null`` removes it)."""

    text: MemoryText | None = None
    metadata: MetadataObject | None = None
    expires_at: ExpiresAt | msgspec.UnsetType | None = msgspec.UNSET


class MemoryOut(msgspec.Struct):
    """A stored memory."""

    id: Annotated[uuid.UUID, msgspec.Meta(description="The memory's id.")]
    text: Annotated[str, msgspec.Meta(description="The memory.")]
    user_id: Annotated[str | None, msgspec.Meta(description="The user it is about, if any.")]
    agent_id: Annotated[str | None, msgspec.Meta(description="The agent it belongs to, if any.")]
    run_id: Annotated[
        str | None, msgspec.Meta(description="The run or session it belongs to, if any.")
    ]
    metadata: Annotated[dict[str, Any], msgspec.Meta(description="Free-form metadata.")]
    created_at: Annotated[datetime, msgspec.Meta(description="When it was first stored.")]
    updated_at: Annotated[datetime, msgspec.Meta(description="When it last changed.")]

    expires_at: Annotated[
        datetime | None, msgspec.Meta(description="When it expires; null: never.")
    ]
    categories: Annotated[
        list[str],
        msgspec.Meta(
            description="The categories the LLM labelled it with, from those its add offered "
            "(custom_categories, or the project's); filter with "
            '{"categories": {"contains": "health"}}.'
        ),
    ]

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
            expires_at=memory.expires_at,
            categories=list(memory.categories),
        )


class MemoryList(msgspec.Struct):
    """One page of memories, newest first. Pass ``next_cursor`` back as ``cursor``."""

    memories: Annotated[list[MemoryOut], msgspec.Meta(description="This page, newest first.")]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Pass as cursor for the next page; null on the last page."),
    ]


class DeleteScopeResponse(msgspec.Struct):
    """How many memories were deleted."""

    deleted: Annotated[int, msgspec.Meta(description="How many memories were deleted.")]


class HistoryEventOut(msgspec.Struct):
    """One change to a memory."""

    id: Annotated[
        int, msgspec.Meta(description="Position of this change in the history (increasing).")
    ]
    memory_id: Annotated[uuid.UUID, msgspec.Meta(description="The memory changed.")]
    event: Annotated[
        Literal["ADD", "UPDATE", "DELETE", "NONE"],
        msgspec.Meta(description="ADD, UPDATE, DELETE or NONE."),
    ]
    old_text: Annotated[str | None, msgspec.Meta(description="Text before the change.")]
    new_text: Annotated[str | None, msgspec.Meta(description="Text after the change.")]
    old_metadata: Annotated[
        dict[str, Any] | None, msgspec.Meta(description="Metadata before the change.")
    ]
    new_metadata: Annotated[
        dict[str, Any] | None, msgspec.Meta(description="Metadata after the change.")
    ]
    actor: Annotated[str, msgspec.Meta(description="Who made the change: client or llm.")]
    created_at: Annotated[datetime, msgspec.Meta(description="When the change was made.")]

    @classmethod
    def of(cls, event: HistoryEvent) -> HistoryEventOut:
        return cls(**dataclasses.asdict(event))


class MemoryHistory(msgspec.Struct):
    """Every change to one memory, oldest first."""

    events: Annotated[list[HistoryEventOut], msgspec.Meta(description="The changes, oldest first.")]


class Health(msgspec.Struct, omit_defaults=True):
    """Liveness or readiness."""

    status: Annotated[str, msgspec.Meta(description="ok, or what is wrong.")]
    database: Annotated[bool | None, msgspec.Meta(description="Whether Postgres answered.")] = None
    model: Annotated[
        bool | None, msgspec.Meta(description="Whether the embedding model is loaded.")
    ] = None
    llm: Annotated[
        Literal["ok", "degraded"] | None,
        msgspec.Meta(
            description="The LLM step: ok, or degraded while repeated failures hold calls back "
            "(adds with inference then answer 202 at once). Absent without an LLM. Does not "
            "affect readiness."
        ),
    ] = None


class ImportResponse(msgspec.Struct):
    """What an import did."""

    imported: Annotated[int, msgspec.Meta(description="Memories stored.")]
    already_present: Annotated[
        int, msgspec.Meta(description="Memories whose text their scope already held: skipped.")
    ]
    expired: Annotated[int, msgspec.Meta(description="Memories expired since the export.")]
    re_embedded: Annotated[
        bool,
        msgspec.Meta(
            description="Whether the texts were embedded again (the export came from another "
            "vector space: model, weights' precision or document prompt) instead of reusing the "
            "exported vectors."
        ),
    ]
