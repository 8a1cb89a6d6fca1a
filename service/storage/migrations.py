"""Apply the alembic migrations in ``migrations/`` and check a database is up to date."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from service.errors import ConfigurationError, IncompatibleDatabase


def _checked(path: Path) -> Path:
    if not (path / "env.py").is_file():
        raise ConfigurationError(
            f"no alembic migrations found in {path}; set MEMORY_MIGRATIONS_DIR to the "
            "'migrations' directory of this release"
        )
    return path


def _alembic_config(dsn: str, embedding_dimensions: int, migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_checked(migrations_dir)))
    config.attributes["dsn"] = dsn
    config.attributes["embedding_dimensions"] = embedding_dimensions
    return config


def apply_migrations(
    dsn: str, embedding_dimensions: int, migrations_dir: Path, revision: str = "head"
) -> None:
    """Bring the schema to the newest (or the given) revision (blocking; safe to run from many
    replicas)."""
    config = _alembic_config(dsn, embedding_dimensions, migrations_dir)
    script = ScriptDirectory.from_config(config)
    current = asyncio.run(_current_revision(dsn))
    _refuse_newer_schema(current, script)
    asyncio.run(_ensure_vector_extension(dsn))
    command.upgrade(config, revision)


def migrate_to(dsn: str, embedding_dimensions: int, migrations_dir: Path, revision: str) -> str:
    """Upgrade or downgrade the schema to ``revision``; the revision it was at before.

    A downgrade drops what the later revisions added (columns, tables, indexes, and the data
    in them): it is for rolling back a release, run with the newer release's migrations
    before the older release starts.
    """
    config = _alembic_config(dsn, embedding_dimensions, migrations_dir)
    script = ScriptDirectory.from_config(config)
    known = [step.revision for step in script.walk_revisions()]
    if revision not in known:
        raise ConfigurationError(
            f"unknown revision {revision[:40]!r}: the migrations here are "
            + ", ".join(sorted(known))
        )
    current = asyncio.run(_current_revision(dsn))
    _refuse_newer_schema(current, script)
    below = (
        {step.revision for step in script.iterate_revisions(current, "base")} if current else set()
    )
    if revision in below and revision != current:
        command.downgrade(config, revision)
    else:
        asyncio.run(_ensure_vector_extension(dsn))
        command.upgrade(config, revision)
    return current or "none"


def _refuse_newer_schema(current: str | None, script: ScriptDirectory) -> None:
    """A revision these migrations do not know is a later release's: neither serving it nor
    migrating from it can work here."""
    if current is None or current in {step.revision for step in script.walk_revisions()}:
        return
    head = script.get_current_head()
    raise IncompatibleDatabase(
        f"the database schema is at revision {current}, newer than this release ({head}): "
        f"to roll back, run `memory-service migrate --to {head}` with the release that "
        "migrated it first, or run that release"
    )


async def _current_revision(dsn: str) -> str | None:
    connection = await asyncpg.connect(dsn)
    try:
        return await _revision_of(connection)
    finally:
        await connection.close()


async def _revision_of(connection: asyncpg.Connection) -> str | None:
    """The schema's alembic revision; None before the first migration."""
    if not await connection.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
        return None
    current: str | None = await connection.fetchval("SELECT version_num FROM alembic_version")
    return current


async def _ensure_vector_extension(dsn: str) -> None:
    """Create pgvector first, on a connection of its own, so that a role that may not do it
    gets one line saying what an administrator must run: inside the migration the refusal
    aborted the transaction and surfaced as a long traceback about that instead."""
    connection = await asyncpg.connect(dsn)
    try:
        if await connection.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'vector'"):
            return
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except asyncpg.exceptions.InsufficientPrivilegeError:
            role = await connection.fetchval("SELECT current_user")
            database = await connection.fetchval("SELECT current_database()")
            raise IncompatibleDatabase(
                f"the database role {role!r} may not create the pgvector extension in database "
                f"{database!r}: have a superuser run `CREATE EXTENSION vector;` in that database "
                f"(psql -d {database} -c 'CREATE EXTENSION vector;'), then run "
                "`memory-service migrate` again"
            ) from None
        except asyncpg.exceptions.PostgresError as error:
            raise IncompatibleDatabase(
                f"the pgvector extension ('vector') cannot be created: {error}. Install pgvector "
                "0.8 or newer on the Postgres server, then run `memory-service migrate` again"
            ) from None
    finally:
        await connection.close()


def head_revision(migrations_dir: Path) -> str:
    script = ScriptDirectory(str(_checked(migrations_dir)))
    head = script.get_current_head()
    if head is None:
        raise ConfigurationError("the migrations directory has no revisions")
    return head


async def ensure_schema_is_current(dsn: str, migrations_dir: Path, timeout_s: float) -> None:
    """Check on a plain connection: the pool's codecs need the schema's types to exist."""
    connection = await asyncpg.connect(dsn, timeout=timeout_s)
    try:
        await _check_revision(connection, migrations_dir)
    finally:
        await connection.close()


async def _check_revision(connection: asyncpg.Connection, migrations_dir: Path) -> None:
    """Refuse to serve an unmigrated, older or newer schema instead of failing on the first
    query."""
    head = head_revision(migrations_dir)
    current = await _revision_of(connection)
    _refuse_newer_schema(current, ScriptDirectory(str(_checked(migrations_dir))))
    if current != head:
        raise IncompatibleDatabase(
            f"the database schema is at revision {current or 'none'} but this release needs "
            f"{head}: run `memory-service migrate` against this DATABASE_URL first"
        )
