"""Build the application: the services (``service.composition``) behind the HTTP controllers.

Nothing imports this module except the command line and the tests.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp

from service import errors
from service.adapters.embedder import Embedder
from service.api.consistency import token_answerer
from service.api.context import ContextController
from service.api.dependencies import service_dependencies
from service.api.health import healthz, prometheus_metrics, readyz
from service.api.idempotency import IdempotencyMiddleware
from service.api.jobs import JobsController
from service.api.mem0 import Mem0PathRouting, mem0_router
from service.api.memories import MemoriesController
from service.api.openapi import finish_document, openapi_config
from service.api.problems import handle_domain_error, handle_http_exception, handle_unexpected_error
from service.api.request_checks import check_request
from service.api.request_log import RequestLogMiddleware
from service.api.search import SearchController
from service.composition import Services, build_services
from service.mcp.http import McpHttp
from service.settings import Settings


def create_app(services: Services, *, database_checked: bool = False) -> Litestar:
    """The Litestar app over ``services``. Their embedder must be loaded when serving (not for
    the schema). ``database_checked``: the caller already ran ``check_database_serves``."""
    settings = services.settings

    async def start(app: Litestar) -> None:
        await services.open(check_database=not database_checked)
        if settings.uses_embedded_postgres:
            await services.api_keys.ensure_development_key(settings.dev_api_key_file)
        services.start_background_work(settings.job_workers)

    async def stop(app: Litestar) -> None:
        await services.close()

    mcp = McpHttp(services)  # the MCP dialect at /mcp; not in the OpenAPI document
    app = Litestar(
        route_handlers=[
            MemoriesController,
            SearchController,
            ContextController,
            JobsController,
            healthz,
            readyz,
            prometheus_metrics,
            mem0_router,
            mcp.route(),
        ],
        dependencies=service_dependencies(services),
        exception_handlers={
            errors.MemoryServiceError: handle_domain_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected_error,
        },
        openapi_config=openapi_config(),
        on_startup=[start],
        on_shutdown=[stop],
        lifespan=[mcp.lifespan],  # its sessions end before on_shutdown closes the services
        before_request=check_request,
        after_request=token_answerer(services.database.wal_position),
        middleware=[
            DefineMiddleware(
                IdempotencyMiddleware,
                api_keys=services.api_keys,
                idempotency=services.idempotency,
                max_body_bytes=settings.max_body_bytes,
                wal_position=services.database.wal_position,
            )
        ],
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        logging_config=None,  # structlog is configured by service.logging
    )
    finish_document(app.openapi_schema)  # built once here; /schema serves this object
    return app


def create_asgi_app(
    settings: Settings, dsn: str, embedder: Embedder, *, database_checked: bool = False
) -> ASGIApp:
    """What the server runs: the app wrapped in per-request logging."""
    app = create_app(build_services(settings, dsn, embedder), database_checked=database_checked)
    return RequestLogMiddleware(Mem0PathRouting(app))
