"""Build the application: wire settings, database, model and controllers together.

Nothing imports this module except the command line and the tests.
"""

from __future__ import annotations

import asyncio

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp

from service import errors
from service.adapters.embedder import Embedder
from service.adapters.llm import ChatJsonClient
from service.api.dependencies import provide_tenant
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
from service.domain.adding import AddLimits, AddService
from service.domain.api_keys import ApiKeyService
from service.domain.feedback import FeedbackService
from service.domain.idempotency import IdempotencyService
from service.domain.ingest import IngestPipeline
from service.domain.jobs import IngestJobs
from service.domain.maintenance import Maintenance
from service.domain.memories import MemoryService
from service.domain.rate_limit import RateLimiter
from service.domain.search import HybridSettings, SearchService
from service.domain.transfer import TransferService
from service.models import Bm25Parameters
from service.settings import Settings
from service.storage.database import ALL_TENANTS, Database
from service.storage.migrations import ensure_schema_is_current
from service.storage.model_registry import ensure_vector_space


def build_ingest_jobs(
    settings: Settings, database: Database, embedder: Embedder
) -> tuple[IngestJobs | None, ChatJsonClient | None]:
    """The LLM pipeline and its job queue, when an LLM is configured."""
    if settings.llm_base_url is None:
        return None, None
    llm = ChatJsonClient(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        model=settings.llm_model,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        response_format=settings.llm_response_format,
    )
    pipeline = IngestPipeline(
        database,
        embedder,
        llm,
        near_duplicate_similarity=settings.near_duplicate_similarity,
        max_fact_chars=settings.max_text_chars,
    )
    jobs = IngestJobs(
        database, pipeline, max_attempts=settings.job_max_attempts, lease_s=settings.job_lease_s
    )
    return jobs, llm


def create_app(settings: Settings, dsn: str, embedder: Embedder) -> Litestar:
    """The Litestar app. ``embedder`` must already be loaded when serving (not for the schema)."""
    database = Database(
        dsn,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout_s=settings.db_timeout_s,
    )
    api_keys = ApiKeyService(database)
    idempotency = IdempotencyService(
        database, settings.idempotency_ttl_s, settings.idempotency_lock_s
    )
    maintenance = Maintenance(database, idempotency, settings.purge_interval_s)
    ingest_jobs, llm = build_ingest_jobs(settings, database, embedder)
    workers: list[asyncio.Task[None]] = []
    memory_service = MemoryService(database, embedder, settings.near_duplicate_similarity)
    state = State(
        {
            "settings": settings,
            "database": database,
            "embedder": embedder,
            "api_keys": api_keys,
            "memory_service": memory_service,
            "add_service": AddService(
                memory_service,
                ingest_jobs,
                AddLimits(settings.max_text_chars, settings.max_batch_items),
            ),
            "feedback_service": FeedbackService(database),
            "transfer_service": TransferService(database, embedder, settings.max_text_chars),
            "rate_limiter": RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
            "search_service": SearchService(
                database,
                embedder,
                exact_max_rows=settings.exact_search_max_rows,
                ef_search=settings.hnsw_ef_search,
                hybrid=HybridSettings(
                    keyword_weight=settings.hybrid_keyword_weight,
                    candidates=settings.hybrid_candidates,
                    date_weight=settings.hybrid_date_weight,
                    session_weight=settings.hybrid_session_weight,
                    bm25=Bm25Parameters(settings.hybrid_bm25_k1, settings.hybrid_bm25_b),
                ),
            ),
            "ingest_jobs": ingest_jobs,
            "shutting_down": False,
        }
    )

    async def start(app: Litestar) -> None:
        await ensure_schema_is_current(dsn, settings.migrations_dir, settings.db_timeout_s)
        await database.open()
        async with database.connection(ALL_TENANTS) as connection:
            await ensure_vector_space(connection, embedder.vector_space)
        await embedder.start()
        if settings.uses_embedded_postgres:
            await api_keys.ensure_development_key(settings.dev_api_key_file)
        workers.append(asyncio.create_task(maintenance.loop(), name="maintenance"))
        if ingest_jobs is not None:
            workers.extend(
                asyncio.create_task(ingest_jobs.work(), name=f"ingest-worker-{n}")
                for n in range(settings.job_workers)
            )

    async def stop(app: Litestar) -> None:
        app.state.shutting_down = True
        # A job cut off here keeps its lease and is taken up again when the lease expires.
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if llm is not None:
            await llm.close()
        await embedder.stop()
        await database.close()

    app = Litestar(
        route_handlers=[
            MemoriesController,
            SearchController,
            JobsController,
            healthz,
            readyz,
            prometheus_metrics,
            mem0_router,
        ],
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
        before_request=check_request,
        middleware=[
            DefineMiddleware(
                IdempotencyMiddleware,
                api_keys=api_keys,
                idempotency=idempotency,
                max_body_bytes=settings.max_body_bytes,
            )
        ],
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        logging_config=None,  # structlog is configured by service.logging
    )
    finish_document(app.openapi_schema)  # built once here; /schema serves this object
    return app


def create_asgi_app(settings: Settings, dsn: str, embedder: Embedder) -> ASGIApp:
    """What the server runs: the app wrapped in per-request logging."""
    return RequestLogMiddleware(Mem0PathRouting(create_app(settings, dsn, embedder)))
