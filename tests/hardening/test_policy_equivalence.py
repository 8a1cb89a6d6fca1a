"""Migration 0015: the read-once policy admits exactly the rows, and the
writes, that migration 0007's per-row policy admitted, for every value the service (or a
stray session) can give the settings. Both conditions are taken from the migration itself
and put on two scratch tables of identical rows, run as the service's unprivileged role."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import uuid
from pathlib import Path

import asyncpg
import pytest

from service.storage.database import APP_ROLE

MIGRATION = Path(__file__).parents[2] / "migrations" / "versions" / "0015_policy_read_once.py"
A, B = uuid.UUID(int=1), uuid.UUID(int=2)
OPERATIONS = {
    "select": "SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM {t}",
    "insert own": f"INSERT INTO {{t}} VALUES (10, '{A}') RETURNING id",
    "insert null": "INSERT INTO {t} VALUES (11, NULL) RETURNING id",
    "move to B": f"WITH u AS (UPDATE {{t}} SET tenant_id = '{B}' WHERE id = 1 RETURNING id) "
    "SELECT count(*) FROM u",
    "touch all": "WITH u AS (UPDATE {t} SET id = id RETURNING id) SELECT count(*) FROM u",
    "delete all": "WITH d AS (DELETE FROM {t} RETURNING id) SELECT count(*) FROM d",
    "upsert B's row": f"INSERT INTO {{t}} VALUES (2, '{A}') ON CONFLICT (id) "
    "DO UPDATE SET tenant_id = excluded.tenant_id RETURNING id",
}
# What Database sets (a uuid, or '' with all_tenants), and what a stray session might.
TENANTS = [str(A), str(B), "", None]
ALL_TENANTS = ["on", "off", "", None, "ON"]


def _conditions() -> tuple[str, str]:
    spec = importlib.util.spec_from_file_location("m0015", MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return (
        module.READ_PER_ROW.format(column="tenant_id"),
        module.READ_ONCE.format(column="tenant_id"),
    )


async def _outcome(
    connection: asyncpg.Connection, table: str, tenant: str | None, every: str | None, sql: str
) -> tuple[str, object]:
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute(f"SET LOCAL ROLE {APP_ROLE}")
        if tenant is not None:
            await connection.execute("SELECT set_config('memory.tenant_id', $1, true)", tenant)
        if every is not None:
            await connection.execute("SELECT set_config('memory.all_tenants', $1, true)", every)
        return "ok", await connection.fetchval(sql.format(t=table))
    except asyncpg.PostgresError as error:
        return "refused", type(error).__name__
    finally:
        await transaction.rollback()


async def _compare(dsn: str) -> list[str]:
    per_row, read_once = _conditions()
    connection = await asyncpg.connect(dsn)
    suffix = uuid.uuid4().hex[:8]
    tables = {"old": f"policy_old_{suffix}", "new": f"policy_new_{suffix}"}
    differences = []
    try:
        for which, condition in (("old", per_row), ("new", read_once)):
            table = tables[which]
            await connection.execute(
                f"CREATE TABLE {table} (id int PRIMARY KEY, tenant_id uuid);"
                f"INSERT INTO {table} VALUES (1, '{A}'), (2, '{B}'), (3, NULL);"
                f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;"
                f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;"
                f"CREATE POLICY p ON {table} USING ({condition}) WITH CHECK ({condition});"
                f"GRANT ALL ON {table} TO {APP_ROLE}"
            )
        for tenant, every, (name, sql) in itertools.product(
            TENANTS, ALL_TENANTS, OPERATIONS.items()
        ):
            old = await _outcome(connection, tables["old"], tenant, every, sql)
            new = await _outcome(connection, tables["new"], tenant, every, sql)
            if old != new:
                differences.append(f"{name} tenant={tenant!r} all={every!r}: {old} -> {new}")
        # The comparison means something: the policy applies, and tenant A sees row 1 only.
        sample = OPERATIONS["select"]
        assert await _outcome(connection, tables["new"], str(A), "off", sample) == ("ok", [1])
        assert await _outcome(connection, tables["new"], "", "on", sample) == ("ok", [1, 2, 3])
        assert await _outcome(connection, tables["new"], None, None, sample) == ("ok", [])
    finally:
        for table in tables.values():
            await connection.execute(f"DROP TABLE IF EXISTS {table}")
        await connection.close()
    return differences


def test_read_once_policy_admits_what_the_per_row_policy_admitted(migrated_dsn: str) -> None:
    assert asyncio.run(_compare(migrated_dsn)) == []


@pytest.mark.parametrize("tenant", ["garbage", f" {A}"])
def test_a_malformed_tenant_setting_still_shows_no_row(migrated_dsn: str, tenant: str) -> None:
    """0007 raised (invalid uuid) here; 0015 raises too once a row is read, and shows nothing
    when there is none: either way nothing is visible."""

    async def run() -> tuple[str, object]:
        connection = await asyncpg.connect(migrated_dsn)
        try:
            return await _outcome(
                connection, "memories", tenant, "off", "SELECT count(*) FROM memories"
            )
        finally:
            await connection.close()

    outcome = asyncio.run(run())
    assert outcome in (("refused", "InvalidTextRepresentationError"), ("ok", 0))
