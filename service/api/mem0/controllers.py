"""The Mem0 platform routes: parse the SDK's request, call the domain, answer in its shapes.

Mounted under ``/mem0`` and hidden from ``openapi.yaml``: generated clients use the native
API; this dialect exists for code already written against Mem0 (see docs/mem0-migration.md).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, delete, get, post, put, route
from litestar.params import Parameter
from litestar.types import Method

from service.api.request_checks import IGNORED_QUERY_PARAMETERS
from service.domain.adding import AddRequest, AddService, Job, Turn
from service.domain.feedback import FeedbackService
from service.domain.memories import (
    KEEP_EXPIRY,
    MemoryChange,
    MemoryService,
)
from service.domain.search import SearchService
from service.errors import InvalidRequest, NotSupported
from service.models import EntityKind, Guidance, Scope, Tenant

from .projects import PROJECT_ROUTES
from .routing import CLIENT_PATH, MEM0_PREFIX
from .schemas import (
    AddBody,
    BatchDeleteBody,
    BatchUpdateBody,
    FeedbackBody,
    ListBody,
    Mem0AddResponse,
    Mem0Done,
    Mem0Entities,
    Mem0Entity,
    Mem0Feedback,
    Mem0HistoryEntry,
    Mem0Memory,
    Mem0Page,
    Mem0Ping,
    Mem0Results,
    SearchBody,
    UpdateBody,
)
from .translate import (
    add_out,
    any_of_categories,
    categories_in,
    expiry_of,
    history_out,
    hit_out,
    memory_out,
    metadata_equalities,
    native_filter,
    refuse_unsupported,
    scope_of,
    time_range,
    told_at,
)

_APP_ID = "app_id scoping (use agent_id, or a metadata key)"
_UNSUPPORTED_ADD = {
    "app_id": _APP_ID,
    "agent_custom_instructions": "instructions for agent memories (use custom_instructions)",
    "structured_data_schema": "structured extraction",
    "enable_graph": "graph memory",
    "immutable": "immutable memories",
}
_UNSUPPORTED_SEARCH = {
    "app_id": _APP_ID,
    "rerank": "reranking",
    "fields": "choosing the fields returned",
    "show_expired": "showing expired memories",
    "reference_date": "relative-date queries",
    "enable_graph": "graph memory",
}
_UNSUPPORTED_LIST = {
    "app_id": _APP_ID,
    "show_expired": "showing expired memories",
    "keywords": "keyword filters",
    "enable_graph": "graph memory",
}
_UNSUPPORTED_UPDATE = {"timestamp": "custom memory timestamps"}
_ENTITY_KINDS: tuple[EntityKind, ...] = ("user", "agent", "run")
DEFAULT_PAGE_SIZE = 100

EntityQuery = Annotated[str | None, Parameter(min_length=1, max_length=255)]
# Query parameters the SDK sends that mean nothing here: accepted (unknown ones answer 400).
# mem0ai 1.x adds org_id and project_id to most requests; 2.x sends delete_linked=true on a
# delete that should also remove the memories it superseded, and this service keeps none.
SDK_QUERY_PARAMETERS = ("org_id", "project_id")


@get("/v1/ping")
async def ping(tenant: Tenant) -> Mem0Ping:
    """The SDK's constructor checks its key here: any non-2xx makes it fail."""
    return Mem0Ping(status="ok", org_id=str(tenant.id), project_id=str(tenant.id))


@post(["/v1/memories", "/v3/memories/add"], status_code=200)
async def add(data: AddBody, tenant: Tenant, add_service: AddService) -> Response[Mem0AddResponse]:
    refuse_unsupported(data, _UNSUPPORTED_ADD)
    # Mem0 queues adds when asked; without an LLM there is nothing slow to queue.
    background = data.async_mode and data.infer and add_service.can_run_in_background
    told = told_at(data.timestamp)
    outcome = await add_service.add(
        tenant.id,
        AddRequest(
            scope=scope_of(Scope(data.user_id, data.agent_id, data.run_id), data.filters),
            turns=[Turn(m.role, m.content, m.name, told) for m in data.messages],
            metadata=data.metadata or {},
            infer=data.infer,
            background=background,
            expires_at=expiry_of(data.expiration_date),
            guidance=Guidance(
                data.custom_instructions or None,
                data.includes or None,
                data.excludes or None,
                categories_in(data.custom_categories),
            ),
        ),
    )
    return Response(add_out(outcome), status_code=202 if isinstance(outcome, Job) else 200)


@post(["/v1/memories/search", "/v2/memories/search", "/v3/memories/search"], status_code=200)
async def search(data: SearchBody, tenant: Tenant, search_service: SearchService) -> Mem0Results:
    refuse_unsupported(data, _UNSUPPORTED_SEARCH)
    hits, _ = await search_service.search(
        tenant.id,
        scope_of(Scope(data.user_id, data.agent_id, data.run_id), data.filters),
        data.query,
        native_filter(
            data.filters, metadata_equalities(data.metadata) + any_of_categories(data.categories)
        ),
        data.top_k,
        data.threshold,
    )
    return Mem0Results([hit_out(hit) for hit in hits])


@post(["/v2/memories", "/v3/memories"], status_code=200)
async def list_memories(
    request: Request[Any, Any, Any],
    data: ListBody,
    tenant: Tenant,
    memory_service: MemoryService,
    page: Annotated[int, Parameter(ge=1)] = 1,
    page_size: Annotated[int | None, Parameter(ge=1, le=1000)] = None,
) -> Mem0Page:
    refuse_unsupported(data, _UNSUPPORTED_LIST)
    size = page_size or data.top_k or DEFAULT_PAGE_SIZE
    numbered = await memory_service.list_numbered_page(
        tenant.id,
        scope_of(Scope(data.user_id, data.agent_id, data.run_id), data.filters),
        native_filter(
            data.filters,
            time_range(data.start_date, data.end_date) + any_of_categories(data.categories),
        ),
        page,
        size,
    )
    last_page = max(1, -(-numbered.total // size))

    def link(number: int) -> str | None:
        if not 1 <= number <= last_page or number == page:
            return None
        return str(
            request.url.with_replacements(
                path=request.scope.get("state", {}).get(CLIENT_PATH, request.url.path),
                query=f"page={number}&page_size={size}",
            )
        )

    return Mem0Page(
        count=numbered.total,
        next=link(page + 1),
        previous=link(page - 1) if page <= last_page else None,
        results=[memory_out(memory) for memory in numbered.memories],
    )


@get("/v1/memories/{memory_id:uuid}")
async def get_memory(
    memory_id: uuid.UUID, tenant: Tenant, memory_service: MemoryService
) -> Mem0Memory:
    return memory_out(await memory_service.get(tenant.id, memory_id))


@put("/v1/memories/{memory_id:uuid}")
async def update_memory(
    memory_id: uuid.UUID,
    data: UpdateBody,
    tenant: Tenant,
    memory_service: MemoryService,
) -> Mem0Memory:
    refuse_unsupported(data, _UNSUPPORTED_UPDATE)
    memory = await memory_service.update(
        tenant.id,
        memory_id,
        text=data.text,
        metadata=data.metadata,
        expires_at=(
            KEEP_EXPIRY
            if data.expiration_date is msgspec.UNSET
            else expiry_of(data.expiration_date)
        ),
    )
    return memory_out(memory)


@delete(
    "/v1/memories/{memory_id:uuid}",
    status_code=200,
    opt={IGNORED_QUERY_PARAMETERS: (*SDK_QUERY_PARAMETERS, "delete_linked")},
)
async def delete_memory(
    memory_id: uuid.UUID, tenant: Tenant, memory_service: MemoryService
) -> Mem0Done:
    await memory_service.delete(tenant.id, memory_id)
    return Mem0Done("Memory deleted")


@delete("/v1/memories", status_code=200)
async def delete_all(
    tenant: Tenant,
    memory_service: MemoryService,
    user_id: EntityQuery = None,
    agent_id: EntityQuery = None,
    run_id: EntityQuery = None,
    app_id: EntityQuery = None,
) -> Mem0Done:
    if app_id is not None:
        raise NotSupported(f"'app_id' ({_APP_ID}) is not supported by this service")
    deleted = await memory_service.delete_scope(tenant.id, Scope(user_id, agent_id, run_id))
    return Mem0Done(f"{deleted} memories deleted")


@get("/v1/memories/{memory_id:uuid}/history")
async def history(
    memory_id: uuid.UUID, tenant: Tenant, memory_service: MemoryService
) -> list[Mem0HistoryEntry]:
    return [history_out(event) for event in await memory_service.history(tenant.id, memory_id)]


@get("/v1/entities")
async def entities(tenant: Tenant, memory_service: MemoryService) -> Mem0Entities:
    found = await memory_service.entities(tenant.id)
    return Mem0Entities(
        count=len(found),
        next=None,
        previous=None,
        results=[
            Mem0Entity(
                id=entity.name,
                name=entity.name,
                type=entity.kind,
                total_memories=entity.memory_count,
                created_at=entity.created_at,
                updated_at=entity.updated_at,
            )
            for entity in found
        ],
    )


@delete(
    ["/v1/entities/{kind:str}/{name:str}", "/v2/entities/{kind:str}/{name:str}"], status_code=200
)
async def delete_entity(
    kind: str, name: str, tenant: Tenant, memory_service: MemoryService
) -> Mem0Done:
    if kind == "app":
        raise NotSupported(f"'app' entities ({_APP_ID}) are not supported by this service")
    if kind not in _ENTITY_KINDS:
        raise InvalidRequest(f"entity type is one of {', '.join(_ENTITY_KINDS)}, not {kind!r}")
    deleted = await memory_service.delete_entity(tenant.id, kind, name)
    return Mem0Done(f"{kind} {name!r} deleted with its {deleted} memories")


@put("/v1/batch")
async def batch_update(
    data: BatchUpdateBody, tenant: Tenant, memory_service: MemoryService
) -> Mem0Done:
    changed = await memory_service.update_many(
        tenant.id,
        [MemoryChange(item.memory_id, item.text, item.metadata) for item in data.memories],
    )
    return Mem0Done(f"Successfully updated {len(changed)} memories")


@delete("/v1/batch", status_code=200)
async def batch_delete(
    data: BatchDeleteBody, tenant: Tenant, memory_service: MemoryService
) -> Mem0Done:
    await memory_service.delete_many(tenant.id, [item.memory_id for item in data.memories])
    return Mem0Done(f"Successfully deleted {len(data.memories)} memories")


@post("/v1/feedback", status_code=200)
async def feedback(
    data: FeedbackBody, tenant: Tenant, feedback_service: FeedbackService
) -> Mem0Feedback:
    stored = await feedback_service.record(
        tenant.id, data.memory_id, data.feedback, data.feedback_reason
    )
    return Mem0Feedback(
        id=str(stored.id),
        memory_id=stored.memory_id,
        feedback=stored.feedback,
        feedback_reason=stored.reason,
    )


def _not_supported(path: str, feature: str, methods: list[Method]) -> Any:
    @route(path, http_method=methods, name=f"mem0-unsupported-{path}")
    async def handler(tenant: Tenant) -> None:
        raise NotSupported(f"{feature} are not supported by this service")

    return handler


_UNSUPPORTED_ROUTES = [
    _not_supported("/v1/exports", "Memory exports", ["POST"]),
    _not_supported("/v1/exports/get", "Memory exports", ["POST"]),
    _not_supported("/v1/summary", "Memory summaries", ["POST"]),
    _not_supported("/v2/entities/{kind:str}/{name:str}/profile", "User profiles", ["GET"]),
    _not_supported("/v2/profiles/{rest:path}", "User profiles", ["GET", "POST"]),
    _not_supported(
        "/api/v1/orgs/{rest:path}",
        "Organisations and projects",
        ["GET", "POST", "PUT", "PATCH", "DELETE"],
    ),
    _not_supported(
        "/api/v1/webhooks/{rest:path}", "Webhooks", ["GET", "POST", "PUT", "PATCH", "DELETE"]
    ),
]

mem0_router = Router(
    path=MEM0_PREFIX,
    route_handlers=[
        ping,
        add,
        search,
        list_memories,
        get_memory,
        update_memory,
        delete_memory,
        delete_all,
        history,
        entities,
        delete_entity,
        batch_update,
        batch_delete,
        feedback,
        *PROJECT_ROUTES,
        *_UNSUPPORTED_ROUTES,
    ],
    # No dependency may share a name with a top-level body field: Litestar reports a body
    # error on that field as a failed dependency (500). So not "memories" (batch bodies).
    include_in_schema=False,
    tags=["mem0"],
    opt={IGNORED_QUERY_PARAMETERS: SDK_QUERY_PARAMETERS},
)
