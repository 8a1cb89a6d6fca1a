"""Migration 0011 brings times stored before they were bounded (±infinity, years outside
1000-8999) into the range every stored time now lies in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from service.adapters.embedded_postgres import start_embedded_postgres
from service.settings import Settings
from service.storage.migrations import apply_migrations
from tests.conftest import run_sql

FIRST = datetime(1000, 1, 1, tzinfo=UTC)
LAST = datetime(8999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
# What revision 0010 let the service write: (content, created_at, updated_at, expires_at).
BEFORE = [
    ("told in year 1", "-infinity", "-infinity", None),
    ("told at the end of time", "infinity", "infinity", None),
    ("told in 500, kept forever", "0500-01-01 00:00:00+00", "2023-01-01 00:00:00+00", "infinity"),
    ("expires in 9500", "2023-05-08 10:00:00+00", "2023-05-08 10:00:00+00", "9500-01-01"),
    ("ordinary", "2023-05-08 10:00:00+00", "2024-01-01 00:00:00+00", "2030-01-01 00:00:00+00"),
]


async def _write_as_before(dsn: str) -> None:
    """Rows as revision 0010 held them; no API of this release can write them."""
    connection = await asyncpg.connect(dsn)
    try:
        tenant = await connection.fetchval("INSERT INTO tenants (name) VALUES ('old') RETURNING id")
        await connection.executemany(
            "INSERT INTO memories (tenant_id, user_id, content, content_hash, embedding, "
            "created_at, updated_at, expires_at) VALUES ($1, 'u', $2, sha256(convert_to($2, "
            "'UTF8')), array_fill(0.1::real, ARRAY[384])::vector, $3::text::timestamptz, "
            "$4::text::timestamptz, $5::text::timestamptz)",
            [(tenant, *row) for row in BEFORE],
        )
    finally:
        await connection.close()


def test_times_outside_the_range_are_moved_to_its_bounds(tmp_path: Path) -> None:
    dsn = start_embedded_postgres(tmp_path / "pgdata")
    migrations = Settings().migrations_dir
    apply_migrations(dsn, 384, migrations, revision="0010")
    asyncio.run(_write_as_before(dsn))

    apply_migrations(dsn, 384, migrations)

    rows = run_sql(dsn, "SELECT content, created_at, updated_at, expires_at FROM memories")
    after = {
        row["content"]: (row["created_at"], row["updated_at"], row["expires_at"]) for row in rows
    }
    assert after == {
        "told in year 1": (FIRST, FIRST, None),
        "told at the end of time": (LAST, LAST, None),
        "told in 500, kept forever": (FIRST, datetime(2023, 1, 1, tzinfo=UTC), None),
        "expires in 9500": (datetime(2023, 5, 8, 10, tzinfo=UTC),) * 2 + (None,),
        "ordinary": (
            datetime(2023, 5, 8, 10, tzinfo=UTC),
            datetime(2024, 1, 1, tzinfo=UTC),
            datetime(2030, 1, 1, tzinfo=UTC),
        ),
    }
