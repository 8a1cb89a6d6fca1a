"""/v1/memories: add, batch add, list, get, update, delete, delete a scope, history."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream

from service.api.add_schemas import (
    AddMemoryRequest,
    AddMemoryResponse,
    AddResult,
    BatchAddRequest,
    ChatMessage,
)
from service.api.cursors import decode_cursor, encode_cursor
from service.api.job_schemas import IngestJob
from service.api.jobs import add_response, job_out
from service.api.problems import problem_responses
from service.api.request_checks import BODY_MEDIA_TYPES
from service.api.schemas import (
    DeleteScopeResponse,
    HistoryEventOut,
    ImportResponse,
    MemoryHistory,
    MemoryList,
    MemoryOut,
    UpdateMemoryRequest,
)
from service.domain.adding import AddRequest, AddService, Job, Turn
from service.domain.filters import parse_filter
from service.domain.json_depth import check_json_depth
from service.domain.memories import KEEP_EXPIRY, MemoryPage, MemoryService, TextToAdd
from service.domain.texts import require_scope
from service.domain.transfer import TransferService
from service.errors import InvalidFilter, InvalidRequest
from service.models import AddOutcome, Category, Guidance, PageCursor, Scope, Tenant

NDJSON = "application/x-ndjson"
# What an import may be sent as: JSON Lines under any of its names, or a file upload (clients
# generated from openapi.yaml treat JSON Lines as one).
IMPORT_MEDIA_TYPES = (
    NDJSON,
    "application/jsonl",
    "application/x-jsonlines",
    "application/octet-stream",
)
MAX_IMPORT_BYTES = 64 * 1024 * 1024
ScopeQuery = Annotated[
    str | None, Parameter(min_length=1, max_length=255, description="Scope: only this id.")
]


class MemoriesController(Controller):
    path = "/v1/memories"
    tags = ["memories"]  # noqa: RUF012  # Litestar reads this class attribute

    @post(
        "/",
        operation_id="addMemory",
        summary="Add a memory",
        responses={
            201: ResponseSpec(AddMemoryResponse, description="Done: what happened to each fact."),
            202: ResponseSpec(
                IngestJob,
                description="Accepted: stored as a job (async, or the LLM failed and it will "
                "be retried). Follow it at GET /v1/jobs/{id}.",
            ),
            **problem_responses(400, 401, 413, 422, 503),
        },
    )
    async def add(
        self, data: AddMemoryRequest, tenant: Tenant, add_service: AddService
    ) -> Response[AddMemoryResponse | IngestJob]:
        """Remember a text or a conversation for a user, agent and/or run. With an LLM
        configured and infer true, facts are extracted and reconciled with what is stored
        (ADD / UPDATE / DELETE / NONE); otherwise the user's messages are stored as given.
        201 when done; 202 with a job when it runs in the background."""
        outcome = await add_service.add(
            tenant.id,
            AddRequest(
                scope=Scope(data.user_id, data.agent_id, data.run_id),
                turns=turns_of(data.text, data.messages, data.created_at),
                metadata=data.metadata,
                infer=data.infer,
                background=data.async_,
                expires_at=data.expires_at,
                guidance=Guidance(
                    data.custom_instructions,
                    data.includes,
                    data.excludes,
                    tuple(Category(c.name, c.description) for c in data.custom_categories or []),
                ),
            ),
        )
        if isinstance(outcome, Job):
            return Response(job_out(outcome), status_code=202)
        return Response(add_response(outcome), status_code=201)

    @post(
        "/batch",
        operation_id="addMemoriesBatch",
        summary="Add many memories",
        responses=problem_responses(400, 401, 413, 422, 503),
    )
    async def add_batch(
        self,
        data: BatchAddRequest,
        tenant: Tenant,
        memory_service: MemoryService,
    ) -> AddMemoryResponse:
        """Store many texts in one transaction, each with its own scope and metadata. A text already
        stored in its scope is reported as NONE, not stored twice."""
        items = [
            TextToAdd(
                item.text,
                Scope(item.user_id, item.agent_id, item.run_id),
                item.metadata,
                item.expires_at,
                item.created_at,
            )
            for item in data.items
        ]
        outcomes = await memory_service.add(tenant.id, items, skip_near_duplicates=data.infer)
        return _add_response(outcomes)

    @get(
        "/",
        operation_id="listMemories",
        summary="List memories of a scope",
        responses=problem_responses(400, 401, 422, 503),
    )
    async def list_memories(
        self,
        tenant: Tenant,
        memory_service: MemoryService,
        user_id: ScopeQuery = None,
        agent_id: ScopeQuery = None,
        run_id: ScopeQuery = None,
        filters: Annotated[
            str | None, Parameter(description="Filter expression as JSON (see SearchRequest).")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000, description="Page size.")] = 100,
        cursor: Annotated[
            str | None, Parameter(description="next_cursor of the previous page.")
        ] = None,
    ) -> MemoryList:
        """Newest first, one page at a time: pass next_cursor back as cursor. filters is a
        JSON filter expression (see MemoryFilter)."""
        scope = _require_scope(user_id, agent_id, run_id)
        page = await memory_service.list_page(
            tenant.id, scope, parse_filter(_json_filter(filters)), limit, page_cursor(cursor)
        )
        return memory_list(page)

    @get(
        "/export",
        operation_id="exportMemories",
        summary="Export a scope as JSON Lines",
        media_type=NDJSON,
        responses={
            200: ResponseSpec(
                str,
                media_type=NDJSON,
                description="A header line (format, embedding model, dimensions, weights' "
                "precision, document prompt), then one line per memory with its text, scope, "
                "metadata, times and vector.",
                generate_examples=False,
            ),
            **problem_responses(400, 401, 422, 503),
        },
    )
    async def export(
        self,
        tenant: Tenant,
        transfer_service: TransferService,
        user_id: ScopeQuery = None,
        agent_id: ScopeQuery = None,
        run_id: ScopeQuery = None,
    ) -> Stream:
        """Every memory of the scope, oldest first, streamed. Import it with POST
        /v1/memories/import, here or into another deployment."""
        scope = _require_scope(user_id, agent_id, run_id)
        return Stream(await transfer_service.export(tenant.id, scope), media_type=NDJSON)

    @post(
        "/import",
        operation_id="importMemories",
        summary="Import memories exported as JSON Lines",
        status_code=200,
        request_max_body_size=MAX_IMPORT_BYTES,
        opt={BODY_MEDIA_TYPES: IMPORT_MEDIA_TYPES},
        responses=problem_responses(400, 401, 413, 422, 503),
    )
    async def import_memories(
        self, request: Request[Any, Any, Any], tenant: Tenant, transfer_service: TransferService
    ) -> ImportResponse:
        """All lines or none (one transaction). Vectors are reused when the export names this
        service's vector space (embedding model, weights' precision, document prompt), computed
        again otherwise; texts a scope already holds are skipped; creation times are kept. Up
        to 64 MiB."""
        # Read raw: Litestar would parse a declared body as JSON (see openapi.RAW_BODIES).
        outcome = await transfer_service.import_lines(tenant.id, await request.body())
        return ImportResponse(
            imported=outcome.imported,
            already_present=outcome.already_present,
            expired=outcome.expired,
            re_embedded=outcome.re_embedded,
        )

    @get(
        "/{memory_id:uuid}",
        operation_id="getMemory",
        summary="Get one memory",
        responses=problem_responses(400, 401, 404, 503),
    )
    async def get_memory(
        self, memory_id: uuid.UUID, tenant: Tenant, memory_service: MemoryService
    ) -> MemoryOut:
        """One memory by id; 404 if it does not exist for this API key."""
        return MemoryOut.of(await memory_service.get(tenant.id, memory_id))

    @patch(
        "/{memory_id:uuid}",
        operation_id="updateMemory",
        summary="Change a memory's text and/or metadata",
        responses=problem_responses(400, 401, 404, 409, 413, 422, 503),
    )
    async def update_memory(
        self,
        memory_id: uuid.UUID,
        data: UpdateMemoryRequest,
        tenant: Tenant,
        memory_service: MemoryService,
    ) -> MemoryOut:
        """Replace the text (it is re-embedded) and/or the whole metadata object. The change is
        recorded in the memory's history."""
        memory = await memory_service.update(
            tenant.id,
            memory_id,
            text=data.text,
            metadata=data.metadata,
            expires_at=KEEP_EXPIRY if data.expires_at is msgspec.UNSET else data.expires_at,
        )
        return MemoryOut.of(memory)

    @delete(
        "/{memory_id:uuid}",
        operation_id="deleteMemory",
        summary="Delete one memory (its history remains)",
        responses=problem_responses(400, 401, 404, 503),
    )
    async def delete_memory(
        self, memory_id: uuid.UUID, tenant: Tenant, memory_service: MemoryService
    ) -> None:
        """Forget one memory. Its history keeps a DELETE event."""
        await memory_service.delete(tenant.id, memory_id)

    @delete(
        "/",
        operation_id="deleteScope",
        summary="Delete every memory of a scope",
        status_code=200,
        responses=problem_responses(400, 401, 422, 503),
    )
    async def delete_scope(
        self,
        tenant: Tenant,
        memory_service: MemoryService,
        user_id: ScopeQuery = None,
        agent_id: ScopeQuery = None,
        run_id: ScopeQuery = None,
    ) -> DeleteScopeResponse:
        """Forget every memory sharing the given ids (at least one of user_id, agent_id, run_id)."""
        scope = Scope(user_id, agent_id, run_id)
        return DeleteScopeResponse(deleted=await memory_service.delete_scope(tenant.id, scope))

    @get(
        "/{memory_id:uuid}/history",
        operation_id="getMemoryHistory",
        summary="The changes to one memory",
        responses=problem_responses(400, 401, 404, 503),
    )
    async def history(
        self, memory_id: uuid.UUID, tenant: Tenant, memory_service: MemoryService
    ) -> MemoryHistory:
        """Every ADD, UPDATE and DELETE of one memory, oldest first, with who made it."""
        events = await memory_service.history(tenant.id, memory_id)
        return MemoryHistory(events=[HistoryEventOut.of(event) for event in events])


def _require_scope(user_id: str | None, agent_id: str | None, run_id: str | None) -> Scope:
    scope = Scope(user_id, agent_id, run_id)
    require_scope(scope)
    return scope


def turns_of(
    text: str | None, messages: list[ChatMessage] | None, created_at: datetime | None = None
) -> list[Turn]:
    """The conversation to learn from; a plain ``text`` counts as one user message."""
    if (text is None) == (messages is None):
        raise InvalidRequest("give exactly one of 'text' and 'messages'")
    if text is not None:
        return [Turn("user", text, timestamp=created_at)]
    return [
        Turn(message.role, message.content, message.name, message.timestamp or created_at)
        for message in messages or []
    ]


def memory_list(page: MemoryPage) -> MemoryList:
    """A page of a listing, with the cursor of the next one (the native dialect's form)."""
    return MemoryList(
        memories=[MemoryOut.of(memory) for memory in page.memories],
        next_cursor=(
            encode_cursor(page.next_cursor.created_at, page.next_cursor.id)
            if page.next_cursor
            else None
        ),
    )


def _add_response(outcomes: list[AddOutcome]) -> AddMemoryResponse:
    return AddMemoryResponse(
        results=[AddResult(event=o.event, memory=MemoryOut.of(o.memory)) for o in outcomes],
        llm_used=False,
    )


def _json_filter(raw: str | None) -> Any:
    if raw is None:
        return None
    check_json_depth(raw, "'filters'")  # before the parser recurses that deep
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidFilter(f"'filters' is not valid JSON: {error.msg} at {error.pos}") from None
    except ValueError:  # an integer of more digits than Python converts (4300)
        raise InvalidFilter("'filters' holds a number too long to read; use fewer digits") from None


def page_cursor(raw: str | None) -> PageCursor | None:
    position = decode_cursor(raw)
    return PageCursor(*position) if position is not None else None
