"""The composition root: every service built once from the settings, typed, in one object.

The app (``service.app``), the worker command and the dependency providers all take what
they need from a ``Services``; nothing is looked up by name at run time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg

from service.adapters.embedded_postgres import keep_embedded_postgres_running
from service.adapters.embedder import Embedder
from service.adapters.llm import ChatJsonClient
from service.adapters.tokenizer import TiktokenCounter
from service.domain.adding import AddLimits, AddService, IngestJobs, IngestPipeline
from service.domain.adding.breaker import CircuitBreaker, GuardedLlm
from service.domain.adding.failed_jobs import FailedJobs
from service.domain.adding.jobs import JobLimits
from service.domain.api_keys import ApiKeyService
from service.domain.context import ContextLimits, ContextService
from service.domain.feedback import FeedbackService
from service.domain.idempotency import IdempotencyService
from service.domain.maintenance import Maintenance
from service.domain.memories import MemoryService
from service.domain.operations import Operations
from service.domain.projects import ProjectService
from service.domain.rate_limit import RateLimiter
from service.domain.search import HybridSettings, SearchService
from service.domain.transfer import TransferService
from service.models import Bm25Parameters
from service.settings import Settings
from service.storage.database import Database
from service.storage.migrations import ensure_schema_is_current
from service.storage.model_registry import ensure_vector_space
from service.storage.replica import ReadReplica


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    database: Database
    embedder: Embedder
    llm: ChatJsonClient | None  # None: no LLM configured
    api_keys: ApiKeyService
    idempotency: IdempotencyService
    rate_limiter: RateLimiter
    memory_service: MemoryService
    add_service: AddService
    project_service: ProjectService
    search_service: SearchService
    context_service: ContextService
    token_counter: TiktokenCounter
    feedback_service: FeedbackService
    transfer_service: TransferService
    ingest_jobs: IngestJobs | None  # None: no LLM configured
    failed_jobs: FailedJobs
    maintenance: Maintenance
    operations: Operations
    _workers: list[asyncio.Task[None]] = field(default_factory=list)

    async def open(self, *, check_database: bool = True) -> None:
        """Connect and load; refuse a database this release cannot serve."""
        if check_database:
            await check_database_serves(self.settings, self.database.dsn, self.embedder)
        await self.database.open()
        await self.embedder.start()
        # Off the event loop: reading the tokenizer's ranks takes about 0.6 s.
        await asyncio.to_thread(self.token_counter.load)

    def start_background_work(self, job_workers: int) -> None:
        """The maintenance loop, and ``job_workers`` ingestion workers if an LLM is set."""
        self._workers.append(asyncio.create_task(self.maintenance.loop(), name="maintenance"))
        if self.settings.uses_embedded_postgres:
            self._workers.append(
                asyncio.create_task(
                    keep_embedded_postgres_running(self.settings.pgdata_dir),
                    name="embedded-postgres-watch",
                )
            )
        if self.ingest_jobs is not None:
            self._workers.extend(
                asyncio.create_task(self.ingest_jobs.work(), name=f"ingest-worker-{n}")
                for n in range(job_workers)
            )

    async def close(self) -> None:
        self.operations.shutting_down = True
        # A job cut off here keeps its lease and is taken up again when the lease expires.
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self.ingest_jobs is not None:
            await self.ingest_jobs.stop()
        if self.llm is not None:
            await self.llm.close()
        await self.embedder.stop()
        await self.database.close()


async def check_database_serves(settings: Settings, dsn: str, embedder: Embedder) -> None:
    """Refuse a schema this release does not know, or stored vectors of another vector space
    (model, precision, document prompt): anything embedded here would not compare with them."""
    await ensure_schema_is_current(dsn, settings.migrations_dir, settings.db_timeout_s)
    connection = await asyncpg.connect(dsn, timeout=settings.db_timeout_s)
    try:
        await ensure_vector_space(connection, embedder.vector_space)
    finally:
        await connection.close()


def database_for(settings: Settings, dsn: str, *, min_size: int, max_size: int) -> Database:
    return Database(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout_s=settings.db_timeout_s,
        statement_cache_size=settings.db_statement_cache_size,
    )


def _with_read_replica(settings: Settings, primary: Database) -> Database:
    if settings.database_read_url is not None:
        replica = Database(
            settings.database_read_url,
            min_size=0,
            max_size=primary.max_size,
            timeout_s=settings.replica_timeout_s,
            statement_cache_size=settings.db_statement_cache_size,
        )
        primary.attach_replica(
            ReadReplica(
                replica,
                wait_s=settings.replica_wait_ms / 1000,
                max_lag_s=settings.replica_max_lag_s,
            )
        )
    return primary


def build_services(
    settings: Settings, dsn: str, embedder: Embedder, *, pool_max: int | None = None
) -> Services:
    database = _with_read_replica(
        settings,
        database_for(
            settings, dsn, min_size=settings.db_pool_min, max_size=pool_max or settings.db_pool_max
        ),
    )
    llm = _llm_client(settings)
    ingest_jobs = _ingest_jobs(settings, database, embedder, llm) if llm is not None else None
    memory_service = MemoryService(
        database,
        embedder,
        near_duplicate_similarity=settings.near_duplicate_similarity,
        max_text_chars=settings.max_text_chars,
        max_items=settings.max_batch_items,
    )
    api_keys = ApiKeyService(database)
    project_service = ProjectService(database)
    search_service = _search_service(settings, database, embedder)
    token_counter = TiktokenCounter()
    idempotency = IdempotencyService(
        database, settings.idempotency_ttl_s, settings.idempotency_lock_s
    )
    return Services(
        settings=settings,
        database=database,
        embedder=embedder,
        llm=llm,
        api_keys=api_keys,
        idempotency=idempotency,
        rate_limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
        memory_service=memory_service,
        add_service=AddService(
            memory_service,
            ingest_jobs,
            AddLimits(settings.max_text_chars, settings.max_batch_items),
            project_service,
        ),
        project_service=project_service,
        search_service=search_service,
        context_service=ContextService(
            search_service,
            token_counter,
            ContextLimits(settings.max_text_chars, settings.max_batch_items),
        ),
        token_counter=token_counter,
        feedback_service=FeedbackService(database),
        transfer_service=TransferService(database, embedder, settings.max_text_chars),
        ingest_jobs=ingest_jobs,
        failed_jobs=FailedJobs(database),
        maintenance=Maintenance(database, idempotency, settings.purge_interval_s),
        operations=Operations(database, lambda: embedder.is_loaded, ingest_jobs),
    )


def _llm_client(settings: Settings) -> ChatJsonClient | None:
    if settings.llm_base_url is None:
        return None
    return ChatJsonClient(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        model=settings.llm_model,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        response_format=settings.llm_response_format,
        max_output_tokens=settings.llm_max_output_tokens,
        cap_parameter=settings.llm_output_cap_parameter,
    )


def _ingest_jobs(
    settings: Settings, database: Database, embedder: Embedder, llm: ChatJsonClient
) -> IngestJobs:
    breaker = CircuitBreaker(settings.llm_breaker_failures, settings.llm_breaker_cooldown_s)
    pipeline = IngestPipeline(
        database,
        embedder,
        GuardedLlm(llm, breaker),
        near_duplicate_similarity=settings.near_duplicate_similarity,
        max_fact_chars=settings.max_text_chars,
    )
    limits = JobLimits(
        max_attempts=settings.job_max_attempts,
        lease_s=settings.job_lease_s,
        sync_wait_s=settings.llm_sync_wait_s,
        token_budget=settings.llm_token_budget_per_add,
    )
    return IngestJobs(database, pipeline, limits, breaker)


def _search_service(settings: Settings, database: Database, embedder: Embedder) -> SearchService:
    return SearchService(
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
    )
