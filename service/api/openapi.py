"""The published OpenAPI document: its settings, and one name for each shared free-form type.

Litestar writes a free-form ``dict`` field inline, so a client generator invents a model per
field (``MemoryOutMetadata``, ``SearchRequestFiltersType0``...). Metadata and filters are the
same thing everywhere, so every such field points at one named component instead.
"""

from __future__ import annotations

from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIType,
    Reference,
    Schema,
    SecurityScheme,
    Server,
)

from service import __version__

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
        "or a metadata key (also as metadata.<key>)."
    ),
    examples=[{"AND": [{"category": "health"}, {"priority": {"gte": 2}}]}],
)
SHARED_SCHEMAS = {"Metadata": _METADATA, "MemoryFilter": _FILTER}
_FIELD_SCHEMA = {
    "metadata": "Metadata",
    "old_metadata": "Metadata",
    "new_metadata": "Metadata",
    "filters": "MemoryFilter",
}


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
    )


def name_shared_schemas(document: OpenAPI) -> None:
    """Point every free-form metadata / filter field at its named component (in place)."""
    schemas = document.components.schemas
    schemas.update(SHARED_SCHEMAS)
    for schema in schemas.values():
        for field, value in (schema.properties or {}).items():
            target = _FIELD_SCHEMA.get(field)
            if target is not None and isinstance(value, Schema) and schema.properties:
                schema.properties[field] = _reference(value, target)


def _reference(inline: Schema, target: str) -> Schema | Reference:
    ref = Reference(f"#/components/schemas/{target}", description=inline.description)
    if inline.one_of:  # optional: [object, null]
        return Schema(
            one_of=[Reference(ref.ref), Schema(type=OpenAPIType.NULL)],
            description=inline.description,
        )
    return ref
