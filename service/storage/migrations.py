"""Apply the alembic migrations in ``migrations/`` and check a database is up to date."""

from __future__ import annotations

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
    command.upgrade(_alembic_config(dsn, embedding_dimensions, migrations_dir), revision)


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
        await _check_revision(connection, head_revision(migrations_dir))
    finally:
        await connection.close()


async def _check_revision(connection: asyncpg.Connection, head: str) -> None:
    """Refuse to serve an unmigrated or older schema instead of failing on the first query."""
    exists = await connection.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
    current = (
        await connection.fetchval("SELECT version_num FROM alembic_version") if exists else None
    )
    if current != head:
        raise IncompatibleDatabase(
            f"the database schema is at revision {current or 'none'} but this release needs "
            f"{head}: run `memory-service migrate` against this DATABASE_URL first"
        )
