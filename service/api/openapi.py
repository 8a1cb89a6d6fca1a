"""The published OpenAPI document: its settings, one name for each shared free-form type, and
component descriptions from the structs' docstrings.

Litestar writes a free-form ``dict`` field inline, so a client generator invents a model per
field (``MemoryOutMetadata``, ``SearchRequestFiltersType0``...). Metadata and filters are the
same thing everywhere, so every such field points at one named component instead.
"""

from __future__ import annotations

import inspect
from typing import Any

from litestar import Response, Router
from litestar.enums import ParamType
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import (
    Components,
    Example,
    Link,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Parameter,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
    Server,
)
from litestar.status_codes import HTTP_404_NOT_FOUND

from service import __version__
from service.api import add_schemas, context_schemas, job_schemas, search_schemas
from service.api import schemas as api_schemas
from service.api.docs_page import JSON_PATH, YAML_PATH, OfflineDocsPlugin
from service.consistency import HEADER as CONSISTENCY_HEADER
from service.domain.times import TIME_RANGE

# Where the structs of the components live.
SCHEMA_MODULES = (api_schemas, add_schemas, search_schemas, context_schemas, job_schemas)

API_DESCRIPTION = """\
A memory service for LLM applications: store what users tell your assistant and recall the
relevant facts later. Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`.
Every error is `application/problem+json` (RFC 9457)."""

_METADATA = Schema(
    type=OpenAPIType.OBJECT,
    additional_properties=True,
    description="Free-form JSON object stored with a memory and usable in filters.",
    examples=[{"category": "health", "priority": 2}],
)
_FILTER = Schema(
    type=OpenAPIType.OBJECT,
    additional_properties=True,
    description=(
        "Filter expression: {field: value} for equality, {field: {op: value}} with op in "
        'eq, ne, gt, gte, lt, lte, in, nin, contains, and {"AND"|"OR": [...]}, '
        '{"NOT": {...}} groups. Fields: user_id, agent_id, run_id, created_at, updated_at, '
        "categories, or a metadata key (also as metadata.<key>). created_at and updated_at "
        f"compare with ISO 8601 times with a timezone {TIME_RANGE}. categories takes contains "
        "(or eq) and ne with a name, in and nin with names. Equality with an array or an "
        "object compares the whole value."
    ),
    examples=[{"AND": [{"category": "health"}, {"priority": {"gte": 2}}]}],
)
_IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    param_in=ParamType.HEADER,
    required=False,
    description=(
        "Makes a retry safe: a request repeated with the same key (and the same body) within "
        "MEMORY_IDEMPOTENCY_TTL_S (a setting) has no second effect and gets the first answer, "
        "marked Idempotent-Replayed: true. The same key with another body answers 422; while "
        "the first request runs, a retry answers 409 with Retry-After."
    ),
    schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=255, pattern=r"^[!-~]+$"),
    examples={"uuid": Example(value="7d0f3b5e-2f4c-4c7e-9b7e-2a1d9c0e4f11")},
)
SHARED_SCHEMAS = {"Metadata": _METADATA, "MemoryFilter": _FILTER}
_FIELD_SCHEMA = {
    "metadata": "Metadata",
    "old_metadata": "Metadata",
    "new_metadata": "Metadata",
    "filters": "MemoryFilter",
}


def _schema_router() -> Router:
    """The router Litestar serves /schema's pages from, as it would build it, except that an
    unknown path under it answers the API's 404 problem instead of an HTML page."""
    return Router(
        "/schema",
        route_handlers=[],
        include_in_schema=False,
        dto=None,
        return_dto=None,
        after_request=_not_found_as_problem,
    )


async def _not_found_as_problem(response: Response[Any]) -> Response[Any]:
    if response.status_code == HTTP_404_NOT_FOUND:
        raise NotFoundException  # the app's handler answers it as a problem
    return response


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="memory-service",
        version=__version__,
        description=API_DESCRIPTION,
        servers=[Server(url="http://127.0.0.1:8000", description="local")],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer"),
                "apiKey": SecurityScheme(
                    type="apiKey", name="X-API-Key", security_scheme_in="header"
                ),
            }
        ),
        security=[{"bearer": []}, {"apiKey": []}],
        use_handler_docstrings=True,
        create_examples=False,
        path="/schema",
        openapi_router=_schema_router(),
        # /schema: a documentation page served whole by the service (no CDN), and the contract.
        render_plugins=[
            OfflineDocsPlugin(),
            JsonRenderPlugin(path=JSON_PATH),
            YamlRenderPlugin(path=[YAML_PATH, "/openapi.yml"]),
        ],
    )


def finish_document(document: OpenAPI) -> None:
    """Name the shared free-form schemas, describe each component by its class docstring
    (Litestar leaves msgspec structs undescribed), and document the Idempotency-Key header of
    every write (it is handled by a middleware, which Litestar cannot see). In place."""
    _document_idempotency(document)
    _document_consistency(document)
    _document_raw_bodies(document)
    _document_links(document)
    schemas = document.components.schemas
    schemas.update(SHARED_SCHEMAS)
    for name, schema in schemas.items():
        struct = next(
            (getattr(module, name) for module in SCHEMA_MODULES if hasattr(module, name)), None
        )
        if schema.description is None and struct is not None and struct.__doc__:
            schema.description = inspect.cleandoc(struct.__doc__)
        if struct is not None and _refuses_unknown_fields(struct):
            # The service answers 400 to a field it does not know; the contract says so.
            schema.additional_properties = False
        _point_at_shared_schemas(schema)
    for schema in schemas.values():
        _describe_component_fields(schema, schemas)


# Operations that read their body raw (not JSON), so Litestar cannot describe it.
RAW_BODIES = {
    "importMemories": (
        "application/x-ndjson",
        "An export of GET /v1/memories/export: a header line, then one line per memory.",
    )
}


# OpenAPI links: where a response names a memory (or a job), the operations that take its id.
# Clients may follow them; schemathesis chains operations along them (stateful fuzzing).
_ADDED_MEMORY = "$response.body#/results/0/memory/id"
_MEMORY_OPERATIONS = ("getMemory", "updateMemory", "deleteMemory", "getMemoryHistory")
LINKS: dict[tuple[str, str], dict[str, tuple[str, str, str]]] = {
    (operation_id, "201"): {
        name[0].upper() + name[1:]: (name, "memory_id", _ADDED_MEMORY)
        for name in _MEMORY_OPERATIONS
    }
    for operation_id in ("addMemory", "addMemoriesBatch")
}
LINKS["addMemory", "202"] = {"GetJob": ("getJob", "job_id", "$response.body#/id")}
LINKS["updateMemory", "200"] = {
    "GetMemoryHistory": ("getMemoryHistory", "memory_id", "$response.body#/id")
}
LINKS["listMemories", "200"] = {
    "GetMemory": ("getMemory", "memory_id", "$response.body#/memories/0/id")
}
LINKS["searchMemories", "200"] = {
    "GetMemory": ("getMemory", "memory_id", "$response.body#/results/0/memory/id")
}


def _refuses_unknown_fields(struct: object) -> bool:
    config = getattr(struct, "__struct_config__", None)
    return bool(getattr(config, "forbid_unknown_fields", False))


def _document_links(document: OpenAPI) -> None:
    for item in (document.paths or {}).values():
        for operation in (item.get, item.post, item.patch):
            if operation is None:
                continue
            for status, response in (operation.responses or {}).items():
                links = LINKS.get((operation.operation_id or "", status))
                if links and isinstance(response, OpenAPIResponse):
                    response.links = {
                        name: Link(
                            operation_id=target,
                            parameters={parameter: expression},
                            description=f"The {parameter.removesuffix('_id')} in this answer.",
                        )
                        for name, (target, parameter, expression) in links.items()
                    }


def _document_raw_bodies(document: OpenAPI) -> None:
    for item in (document.paths or {}).values():
        operation = item.post
        if operation is not None and operation.operation_id in RAW_BODIES:
            media_type, description = RAW_BODIES[operation.operation_id]
            operation.request_body = RequestBody(
                content={media_type: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
                description=description,
                required=True,
            )


def _document_idempotency(document: OpenAPI) -> None:
    for item in (document.paths or {}).values():
        for operation in (item.post, item.put, item.patch, item.delete):
            if operation is None:
                continue
            operation.parameters = [*(operation.parameters or []), _IDEMPOTENCY_KEY]
            responses = operation.responses or {}
            responses.setdefault("409", _problem(_CONFLICT))
            responses.setdefault("422", _problem(_KEY_REUSED))
            operation.responses = dict(sorted(responses.items()))


# Reads a read replica may serve (DATABASE_READ_URL); every other write answers the token.
REPLICA_READS = {"listMemories", "getMemory", "getMemoryHistory", "searchMemories", "buildContext"}
_TOKEN_SCHEMA = Schema(type=OpenAPIType.STRING, pattern=r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")
_CONSISTENCY_TOKEN = Parameter(
    name=CONSISTENCY_HEADER,
    param_in=ParamType.HEADER,
    required=False,
    description=(
        "The Consistency-Token a write answered: this read then sees that write, even when a "
        "read replica serves it. Without it a read may miss writes of the last moments."
    ),
    schema=_TOKEN_SCHEMA,
)
_TOKEN_ANSWERED = OpenAPIHeader(
    description="Send it back on a read to see this write (read-your-writes).",
    schema=_TOKEN_SCHEMA,
)
# Reads whose answer may carry a token all the same: it covers writes they report as done.
TOKEN_REPORTING_READS = {
    "getJob": OpenAPIHeader(
        description="Only once the job is done: send it back on a read to see the memories "
        "the job wrote.",
        schema=_TOKEN_SCHEMA,
    )
}


def _document_consistency(document: OpenAPI) -> None:
    for item in (document.paths or {}).values():
        for operation in (item.get, item.post, item.put, item.patch, item.delete):
            if operation is None or operation.operation_id is None:
                continue
            if operation.operation_id in REPLICA_READS:
                operation.parameters = [*(operation.parameters or []), _CONSISTENCY_TOKEN]
                continue
            answered = TOKEN_REPORTING_READS.get(operation.operation_id)
            if answered is None and operation is not item.get:
                answered = _TOKEN_ANSWERED
            if answered is None:
                continue
            for status, response in (operation.responses or {}).items():
                if status.startswith("2") and isinstance(response, OpenAPIResponse):
                    response.headers = {**(response.headers or {}), CONSISTENCY_HEADER: answered}


_CONFLICT = (
    "Conflicts with stored data, or a request with the same Idempotency-Key is still being "
    "processed (retry after Retry-After seconds)."
)
_KEY_REUSED = "The Idempotency-Key was already used with a different request."


def _problem(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description,
        content={
            "application/problem+json": OpenAPIMediaType(
                schema=Reference("#/components/schemas/Problem")
            )
        },
    )


def _point_at_shared_schemas(schema: Schema) -> None:
    properties = schema.properties or {}
    for field, value in properties.items():
        target = _FIELD_SCHEMA.get(field)
        if target is not None and isinstance(value, Schema):
            properties[field] = _reference(value, target)


def _describe_component_fields(schema: Schema, schemas: dict[str, Schema]) -> None:
    """A field typed by a component says what the component says.

    (Describing such a field on the struct makes Litestar overwrite the component's own
    description, so these are filled in here.)
    """
    for value in (schema.properties or {}).values():
        if value.description:
            continue
        if isinstance(value, Reference):
            refs = [value.ref]
        else:
            refs = [v.ref for v in (value.one_of or value.all_of or []) if isinstance(v, Reference)]
        if refs:
            value.description = schemas[refs[0].rsplit("/", 1)[-1]].description


def _reference(inline: Schema, target: str) -> Schema | Reference:
    ref = Reference(f"#/components/schemas/{target}", description=inline.description)
    if inline.one_of:  # optional: [object, null]
        return Schema(
            one_of=[Reference(ref.ref), Schema(type=OpenAPIType.NULL)],
            description=inline.description,
        )
    return ref
