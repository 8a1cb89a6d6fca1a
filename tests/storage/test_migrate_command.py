"""`memory-service migrate --to REVISION`: a release rolled back takes its schema back too."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service.adapters.embedder import Embedder
from service.errors import IncompatibleDatabase
from service.settings import Settings
from service.storage.migrations import apply_migrations, ensure_schema_is_current, migrate_to
from tests.conftest import run_sql


def _migrate(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn, "MEMORY_LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "service", "migrate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _revision(dsn: str) -> str:
    return str(run_sql(dsn, "SELECT version_num FROM alembic_version")[0]["version_num"])


def _has_column(dsn: str, table: str, column: str) -> bool:
    rows = run_sql(
        dsn,
        "SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2",
        table,
        column,
    )
    return bool(rows)


def test_a_schema_goes_down_to_a_revision_and_up_again(
    own_postgres: tuple[Path, str], embedder: Embedder
) -> None:
    _, dsn = own_postgres  # migrated to the newest revision
    head = _revision(dsn)
    assert _has_column(dsn, "memories", "categories")  # added by 0013

    down = _migrate(dsn, "--to", "0012")
    assert down.returncode == 0, down.stderr
    assert _revision(dsn) == "0012"
    assert not _has_column(dsn, "memories", "categories")
    assert f'"previous_revision": "{head}"' in down.stdout + down.stderr

    again = _migrate(dsn, "--to", "0012")  # already there: nothing to do
    assert again.returncode == 0, again.stderr
    assert _revision(dsn) == "0012"

    up = _migrate(dsn)
    assert up.returncode == 0, up.stderr
    assert _revision(dsn) == head
    assert _has_column(dsn, "memories", "categories")


def test_an_unknown_revision_is_refused_with_the_known_ones(
    own_postgres: tuple[Path, str],
) -> None:
    _, dsn = own_postgres
    before = _revision(dsn)

    refused = _migrate(dsn, "--to", "9999")

    assert refused.returncode == 2
    assert "unknown revision '9999': the migrations here are 0001, 0002" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _revision(dsn) == before


def test_an_older_release_refuses_a_newer_schema_and_says_how_to_roll_back(
    own_postgres: tuple[Path, str], tmp_path: Path, embedder: Embedder
) -> None:
    _, dsn = own_postgres  # at the newest revision
    head = _revision(dsn)
    # The migrations of a release one revision older.
    older = tmp_path / "older-migrations"
    shutil.copytree(Settings().migrations_dir, older)
    [newest] = (older / "versions").glob(f"{head}_*.py")
    newest.unlink()
    previous = f"{int(head) - 1:04d}"

    # Serving it, migrating it up (as embedded `serve` does first) or to a revision: all
    # refused with how to roll back, not alembic's traceback about a revision it cannot find.
    for attempt in (
        lambda: asyncio.run(ensure_schema_is_current(dsn, older, timeout_s=10)),
        lambda: apply_migrations(dsn, embedder.dimensions, older),
        lambda: migrate_to(dsn, embedder.dimensions, older, previous),
    ):
        with pytest.raises(IncompatibleDatabase) as refused:
            attempt()
        assert refused.value.detail == (
            f"the database schema is at revision {head}, newer than this release ({previous}): "
            f"to roll back, run `memory-service migrate --to {previous}` with the release that "
            "migrated it first, or run that release"
        )
    assert _revision(dsn) == head
