"""The wire shapes of /v1/jobs: an add kept as a job, and a page of them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.api.add_schemas import AddMemoryResponse


class IngestJob(msgspec.Struct):
    """An add processed in the background. ``result`` is set once ``status`` is done."""

    id: Annotated[uuid.UUID, msgspec.Meta(description="The job id, for GET /v1/jobs/{id}.")]
    status: Annotated[
        Literal["queued", "running", "done", "failed"],
        msgspec.Meta(description="queued, running, done or failed."),
    ]
    attempts: Annotated[int, msgspec.Meta(description="How many times processing was tried.")]
    last_error: Annotated[
        str | None, msgspec.Meta(description="Why the last attempt failed, if it did.")
    ]
    result: AddMemoryResponse | None
    created_at: Annotated[datetime, msgspec.Meta(description="When the add was accepted.")]
    updated_at: Annotated[datetime, msgspec.Meta(description="When the job last changed.")]
    llm_calls: Annotated[
        int, msgspec.Meta(description="LLM requests made so far, over every attempt.")
    ] = 0
    tokens_used: Annotated[
        int, msgspec.Meta(description="Prompt and completion tokens spent so far, all attempts.")
    ] = 0


class IngestJobList(msgspec.Struct):
    """One page of jobs, latest first. Pass ``next_cursor`` back as ``cursor``."""

    jobs: Annotated[list[IngestJob], msgspec.Meta(description="This page, latest first.")]
    next_cursor: Annotated[
        str | None, msgspec.Meta(description="The next page's cursor; null on the last page.")
    ]
