"""The `memory-service` command: serve, migrate, keys, openapi. No business logic here."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
import yaml

from service.adapters.embedded_postgres import start_embedded_postgres
from service.adapters.embedder import Embedder
from service.composition import build_services, check_database_serves, database_for
from service.errors import (
    ConfigurationError,
    Conflict,
    DatabaseUnavailable,
    IncompatibleDatabase,
    NotFound,
)
from service.logging import configure_logging, redact
from service.mcp.command import MCP_HELP, add_mcp_arguments, serve_mcp_stdio
from service.setting_fields import EMBEDDING, INGESTION, LOGGING, SECTIONS, STORAGE, Section
from service.settings import Settings
from service.settings_doc import env_help
from service.storage.database import ALL_TENANTS, Database, check_pgvector_installed
from service.storage.migrations import apply_migrations, ensure_schema_is_current, migrate_to

log = structlog.get_logger("service.cli")

_DATABASE = (STORAGE, LOGGING)  # what each command that opens the database reads


def _database_url(settings: Settings) -> str:
    """The server to use: DATABASE_URL if set (and it has pgvector), else the embedded one."""
    if settings.database_url is None:
        return start_embedded_postgres(
            settings.pgdata_dir, shared_buffers_mb=settings.embedded_shared_buffers_mb
        )
    asyncio.run(check_pgvector_installed(settings.database_url, settings.db_startup_wait_s))
    return settings.database_url


def _loaded_embedder(settings: Settings) -> Embedder:
    embedder = Embedder(
        settings.embedding_model,
        settings.embedding_batch_size,
        backend=settings.embedding_backend,
        cache_dir=settings.model_cache_dir,
        query_prompt=settings.embedding_query_prompt,
        document_prompt=settings.embedding_document_prompt,
    )
    embedder.load()
    return embedder


def prepare_to_serve(settings: Settings) -> tuple[str, Embedder]:
    """The database and the loaded model, checked to serve together (`serve`, `mcp`)."""
    dsn = _database_url(settings)
    embedder = _loaded_embedder(settings)
    if settings.uses_embedded_postgres:
        # Locally there is one process: migrate in place. In production `migrate` runs once
        # (a Kubernetes Job) so that replicas never race each other.
        apply_migrations(dsn, embedder.dimensions, settings.migrations_dir)
    # Refused here, a wrong schema or model is one line on stderr, not a lifespan traceback.
    asyncio.run(check_database_serves(settings, dsn, embedder))
    return dsn, embedder


def serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn  # noqa: PLC0415  # only the serve command needs it

    from service.app import create_asgi_app  # noqa: PLC0415  # heavy; keep other commands fast

    dsn, embedder = prepare_to_serve(settings)
    log.info(
        "server.starting",
        host=args.host,
        port=args.port,
        database="embedded" if settings.uses_embedded_postgres else "external",
    )
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal once its own
    # handler is gone; exiting normally then runs the clean-up that stops the embedded Postgres.
    signal.signal(signal.SIGTERM, _exit_normally)
    # uvicorn's automatic choices pick uvloop and httptools, both dependencies (pyproject.toml).
    uvicorn.run(
        create_asgi_app(settings, dsn, embedder, database_checked=True),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
    )


def _exit_normally(signum: int, frame: object) -> None:
    raise SystemExit(0)


def worker(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.llm_configured:
        raise ConfigurationError("the worker needs an LLM: set MEMORY_LLM_BASE_URL")
    dsn = _database_url(settings)
    services = build_services(
        settings, dsn, _loaded_embedder(settings), pool_max=args.concurrency + 1
    )
    jobs = services.ingest_jobs
    assert jobs is not None  # noqa: S101  # an LLM is configured (checked above)

    async def run() -> None:
        await services.open()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            # Finish the jobs in hand, claim no more, exit: nothing is left half-done.
            loop.add_signal_handler(stop_signal, stop.set)
        log.info("worker.started", concurrency=args.concurrency)
        try:
            await asyncio.gather(*(jobs.work(stop) for _ in range(args.concurrency)))
            log.info("worker.stopped")
        finally:
            await services.close()

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(run())


def migrate(settings: Settings, args: argparse.Namespace) -> None:
    dsn = _database_url(settings)
    embedder = _loaded_embedder(settings)
    if args.to is None:
        apply_migrations(dsn, embedder.dimensions, settings.migrations_dir)
        log.info("migrations.applied")
        return
    was = migrate_to(dsn, embedder.dimensions, settings.migrations_dir, args.to)
    log.info("migrations.applied", revision=args.to, previous_revision=was)


def keys_create(settings: Settings, args: argparse.Namespace) -> None:
    from service.domain.api_keys import ApiKeyService  # noqa: PLC0415

    async def run(database: Database) -> None:
        created = await ApiKeyService(database).create(args.tenant, args.label)
        print(f"tenant:  {created.tenant.name}\nkey id:  {created.id}\napi key: {created.api_key}")
        print("Store the key now: it is not shown again.", file=sys.stderr)

    _with_database(settings, run)


def keys_revoke(settings: Settings, args: argparse.Namespace) -> None:
    from service.domain.api_keys import ApiKeyService  # noqa: PLC0415

    async def run(database: Database) -> None:
        await ApiKeyService(database).revoke(args.key_id)
        print(f"revoked {args.key_id}")

    _with_database(settings, run)


def keys_list(settings: Settings, args: argparse.Namespace) -> None:
    from service.domain.api_keys import ApiKeyService  # noqa: PLC0415

    async def run(database: Database) -> None:
        for key in await ApiKeyService(database).list_keys():
            status = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            print(f"{key.id}  {key.key_prefix}…  {key.tenant_name:<20} {status:<18} {key.label}")

    _with_database(settings, run)


def tenants_delete(settings: Settings, args: argparse.Namespace) -> None:
    from service.domain.api_keys import ApiKeyService  # noqa: PLC0415

    async def run(database: Database) -> None:
        await ApiKeyService(database).delete_tenant(args.name)
        print(f"deleted tenant {args.name} and all its data")

    _with_database(settings, run)


def jobs_failed(settings: Settings, args: argparse.Namespace) -> None:
    from service.domain.adding.failed_jobs import FailedJobs  # noqa: PLC0415

    async def run(database: Database) -> None:
        for job in await FailedJobs(database).failed(ALL_TENANTS, args.limit):
            tokens = job.spend.prompt_tokens + job.spend.completion_tokens
            print(
                f"{job.id}  tenant {job.tenant_id}  failed {job.updated_at:%Y-%m-%d %H:%M:%S}  "
                f"attempts {job.attempts}  tokens {tokens}  {job.last_error}"
            )

    _with_database(settings, run)


def jobs_retry(settings: Settings, args: argparse.Namespace) -> None:
    from service.domain.adding.failed_jobs import FailedJobs  # noqa: PLC0415

    async def run(database: Database) -> None:
        failed_jobs = FailedJobs(database)
        job_ids = args.job_ids
        if args.all_failed:
            job_ids = [job.id for job in await failed_jobs.failed(ALL_TENANTS, limit=None)]
        refused = 0
        for job_id in job_ids:
            try:
                await failed_jobs.retry(ALL_TENANTS, job_id)
            except (NotFound, Conflict) as error:  # the others are still retried
                print(f"memory-service: {error.detail}", file=sys.stderr)
                refused += 1
            else:
                print(f"queued {job_id} again")
        if refused:
            raise SystemExit(2)

    _with_database(settings, run)


def prepare_model(settings: Settings, args: argparse.Namespace) -> None:
    embedder = _loaded_embedder(settings)
    print(f"{embedder.model_name} ({embedder.backend}) is ready in {settings.model_cache_dir}")


def openapi(settings: Settings, args: argparse.Namespace) -> None:
    document = openapi_document()
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)


def openapi_document() -> dict[str, Any]:
    """The schema the app serves, as committed in openapi.yaml."""
    from service.app import create_app  # noqa: PLC0415

    app = create_app(build_services(Settings(), "postgresql://unused", Embedder("unused")))
    return app.openapi_schema.to_schema()


def _with_database(settings: Settings, action: Callable[[Database], Any]) -> None:
    dsn = _database_url(settings)

    async def run() -> None:
        await ensure_schema_is_current(dsn, settings.migrations_dir, settings.db_timeout_s)
        database = database_for(settings, dsn, min_size=1, max_size=2)
        await database.open()
        try:
            await action(database)
        finally:
            await database.close()

    asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memory-service",
        description="A memory service for LLM applications (HTTP API over Postgres + pgvector).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=env_help(SECTIONS),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, help_text: str, handler: Any, env: Sequence[Section]
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=env_help(env),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        return sub

    serve_parser = command(
        "serve",
        "Run the HTTP API. Without DATABASE_URL it starts an embedded Postgres and migrates it.",
        serve,
        SECTIONS,
    )
    serve_parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)",
    )
    serve_parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    worker_parser = command(
        "worker",
        "Process asynchronous ingestion jobs (the LLM pipeline) without serving HTTP.",
        worker,
        (STORAGE, EMBEDDING, INGESTION, LOGGING),
    )
    worker_parser.add_argument(
        "--concurrency", type=int, default=2, help="jobs processed at once (default 2)"
    )
    migrate_parser = command(
        "migrate",
        "Apply database migrations (run once per release, e.g. as a Kubernetes Job).",
        migrate,
        (STORAGE, EMBEDDING, LOGGING),
    )
    migrate_parser.add_argument(
        "--to",
        metavar="REVISION",
        help="upgrade or downgrade to this revision (e.g. 0014) instead of the newest. To roll "
        "back a release, downgrade with the newer release first: a downgrade drops what later "
        "revisions added, with its data",
    )
    command(
        "prepare-model",
        "Load the embedding model once, exporting it to ONNX (e.g. while building an image).",
        prepare_model,
        (EMBEDDING, LOGGING),
    )
    _add_key_and_tenant_commands(
        command("keys", "Manage API keys (each key belongs to one tenant).", None, _DATABASE),
        command("tenants", "Manage tenants.", None, _DATABASE),
    )
    _add_job_commands(
        command("jobs", "Inspect and retry failed ingestion jobs (all tenants).", None, _DATABASE)
    )
    add_mcp_arguments(command("mcp", MCP_HELP, serve_mcp_stdio, SECTIONS))
    export = command("openapi", "Print the OpenAPI document the server publishes.", openapi, [])
    export.add_argument("--output", "-o", help="write to this file instead of standard output")
    return parser


def _add_key_and_tenant_commands(
    keys: argparse.ArgumentParser, tenants: argparse.ArgumentParser
) -> None:
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = key_commands.add_parser(
        "create", help="create a key (and the tenant if new); prints it once"
    )
    create.add_argument("--tenant", required=True, help="tenant name, e.g. your application")
    create.add_argument("--label", default="", help="a note to recognise the key by")
    create.set_defaults(handler=keys_create)
    revoke = key_commands.add_parser("revoke", help="revoke a key by its id (see `keys list`)")
    revoke.add_argument("key_id", type=uuid.UUID)
    revoke.set_defaults(handler=keys_revoke)
    key_commands.add_parser("list", help="list keys (prefixes only)").set_defaults(
        handler=keys_list
    )
    tenant_commands = tenants.add_subparsers(
        dest="tenants_command", required=True, metavar="ACTION"
    )
    remove = tenant_commands.add_parser(
        "delete", help="delete a tenant with its keys and all its data (cannot be undone)"
    )
    remove.add_argument("name", help="the tenant's name (see `keys list`)")
    remove.set_defaults(handler=tenants_delete)


def _add_job_commands(jobs: argparse.ArgumentParser) -> None:
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    failed = job_commands.add_parser(
        "failed", help="list failed jobs, latest first, with the reason each failed"
    )
    failed.add_argument("--limit", type=int, default=100, help="most jobs listed (default 100)")
    failed.set_defaults(handler=jobs_failed)
    retry = job_commands.add_parser(
        "retry", help="queue failed jobs again, with fresh attempts and token budget"
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("job_ids", nargs="*", type=uuid.UUID, default=[], metavar="JOB_ID")
    which.add_argument("--all-failed", action="store_true", help="every failed job")
    retry.set_defaults(handler=jobs_retry)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings)
        args.handler(settings, args)
    except (
        ConfigurationError,
        IncompatibleDatabase,
        NotFound,
        Conflict,
        DatabaseUnavailable,
    ) as error:
        print(f"memory-service: {redact(error.detail)}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
