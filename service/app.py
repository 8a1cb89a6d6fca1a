"""Build the application: wire settings, database, model and controllers together.

Nothing imports this module except the command line and the tests.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Server
from litestar.types import ASGIApp

from service import __version__, errors
from service.adapters.embedder import Embedder
from service.api.dependencies import provide_tenant
from service.api.health import healthz, readyz
from service.api.memories import MemoriesController
from service.api.problems import handle_domain_error, handle_http_exception, handle_unexpected_error
from service.api.request_log import RequestLogMiddleware
from service.api.search import SearchController
from service.domain.api_keys import ApiKeyService
from service.domain.memories import MemoryService
from service.domain.search import SearchService
from service.settings import Settings
from service.storage.database import Database
from service.storage.migrations import ensure_schema_is_current
from service.storage.model_registry import ensure_embedding_model

API_DESCRIPTION = """\
A memory service for LLM applications: store what users tell your assistant and recall the
relevant facts later. Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`.
Every error is `application/problem+json` (RFC 9457)."""


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


def create_app(settings: Settings, dsn: str, embedder: Embedder) -> Litestar:
    """The Litestar app. ``embedder`` must already be loaded when serving (not for the schema)."""
    database = Database(
        dsn,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout_s=settings.db_timeout_s,
    )
    api_keys = ApiKeyService(database)
    state = State(
        {
            "settings": settings,
            "database": database,
            "embedder": embedder,
            "api_keys": api_keys,
            "memory_service": MemoryService(database, embedder, settings.near_duplicate_similarity),
            "search_service": SearchService(
                database,
                embedder,
                exact_max_rows=settings.exact_search_max_rows,
                ef_search=settings.hnsw_ef_search,
            ),
            "shutting_down": False,
        }
    )

    async def start(app: Litestar) -> None:
        await ensure_schema_is_current(dsn, settings.migrations_dir, settings.db_timeout_s)
        await database.open()
        async with database.connection() as connection:
            await ensure_embedding_model(connection, embedder.model_name, embedder.dimensions)
        await embedder.start()
        if settings.uses_embedded_postgres:
            await api_keys.ensure_development_key(settings.dev_api_key_file)

    async def stop(app: Litestar) -> None:
        app.state.shutting_down = True
        await embedder.stop()
        await database.close()

    return Litestar(
        route_handlers=[MemoriesController, SearchController, healthz, readyz],
        dependencies={"tenant": Provide(provide_tenant)},
        exception_handlers={
            errors.MemoryServiceError: handle_domain_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected_error,
        },
        openapi_config=openapi_config(),
        state=state,
        on_startup=[start],
        on_shutdown=[stop],
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        logging_config=None,  # structlog is configured by service.logging
    )


def create_asgi_app(settings: Settings, dsn: str, embedder: Embedder) -> ASGIApp:
    """What the server runs: the app wrapped in per-request logging."""
    return RequestLogMiddleware(create_app(settings, dsn, embedder))
