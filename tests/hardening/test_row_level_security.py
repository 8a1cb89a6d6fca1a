"""Row-level security: even a query that forgets its tenant condition sees one tenant only.

The queries below are deliberately wrong (no ``tenant_id = $1``); they run through the
service's own Database, the way a buggy storage function would.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from service.errors import InvalidRequest
from service.storage.database import ALL_TENANTS, Database
from tests.conftest import LiveServer, add_text, run_sql


def _tenant_id(server: LiveServer, client: httpx.Client) -> uuid.UUID:
    memory = add_text(client, f"marker {uuid.uuid4()}", user_id="rls")
    [row] = run_sql(
        server.dsn, "SELECT tenant_id FROM memories WHERE id = $1", uuid.UUID(memory["id"])
    )
    return uuid.UUID(str(row["tenant_id"]))


def test_every_table_with_a_tenant_has_forced_row_level_security(live_server: LiveServer) -> None:
    rows = run_sql(
        live_server.dsn,
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
          AND (EXISTS (SELECT 1 FROM information_schema.columns i
                       WHERE i.table_name = c.relname AND i.column_name = 'tenant_id')
               OR c.relname = 'tenants')
        """,
    )
    assert {row["relname"] for row in rows} >= {"memories", "memory_history", "ingest_jobs"}
    for row in rows:
        assert row["relrowsecurity"] and row["relforcerowsecurity"], row["relname"]
        assert row["policies"] == 1, row["relname"]


def test_an_unscoped_query_sees_and_changes_only_its_tenants_rows(
    live_server: LiveServer, client: httpx.Client, other_client: httpx.Client
) -> None:
    tenant_a = _tenant_id(live_server, client)
    tenant_b = _tenant_id(live_server, other_client)
    total = run_sql(live_server.dsn, "SELECT count(DISTINCT tenant_id) AS n FROM memories")[0]["n"]
    assert total >= 2

    async def scenario() -> None:
        database = Database(live_server.dsn, min_size=1, max_size=2, timeout_s=10)
        await database.open()
        try:
            for tenant in (tenant_a, tenant_b):
                async with database.connection(tenant) as connection:
                    seen = await connection.fetch("SELECT DISTINCT tenant_id FROM memories")
                    assert [row["tenant_id"] for row in seen] == [tenant]
                    history = await connection.fetch(
                        "SELECT DISTINCT tenant_id FROM memory_history"
                    )
                    assert [row["tenant_id"] for row in history] == [tenant]
            async with database.connection(uuid.uuid4()) as connection:
                assert await connection.fetchval("SELECT count(*) FROM memories") == 0
                assert await connection.fetchval("SELECT count(*) FROM api_keys") == 0
            async with database.transaction(tenant_a) as connection:
                await connection.execute("UPDATE memories SET metadata = '{\"touched\": true}'")
            async with database.transaction(tenant_a) as connection:
                with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
                    await connection.execute(
                        "INSERT INTO memory_feedback (tenant_id, memory_id) VALUES ($1, $2)",
                        tenant_b,
                        uuid.uuid4(),
                    )
            async with database.connection(ALL_TENANTS) as connection:
                assert (
                    await connection.fetchval("SELECT count(DISTINCT tenant_id) FROM memories")
                    == total
                )
        finally:
            await database.close()

    asyncio.run(scenario())
    touched = run_sql(
        live_server.dsn,
        "SELECT DISTINCT tenant_id FROM memories WHERE metadata @> '{\"touched\": true}'",
    )
    assert [row["tenant_id"] for row in touched] == [tenant_a]


def test_the_policies_read_the_tenant_settings_once_per_statement(
    live_server: LiveServer, client: httpx.Client
) -> None:
    """Per row, each row is compared with constants read once per statement (an InitPlan),
    not with ``current_setting`` calls made for every row (migration 0015)."""
    tenant = _tenant_id(live_server, client)
    table_count = len(
        run_sql(live_server.dsn, "SELECT 1 FROM pg_policy WHERE polname = 'tenant_isolation'")
    )

    async def plans() -> list[str]:
        database = Database(live_server.dsn, min_size=1, max_size=1, timeout_s=10)
        await database.open()
        try:
            async with database.connection(tenant) as connection:
                found: list[str] = []
                for table in ("memories", "memory_history", "api_keys", "tenants"):
                    rows = await connection.fetch(f"EXPLAIN (COSTS OFF) SELECT * FROM {table}")
                    found.append("\n".join(row[0] for row in rows))
                return found
        finally:
            await database.close()

    assert table_count == 8
    for plan in asyncio.run(plans()):
        filters = [line for line in plan.splitlines() if "Filter:" in line]
        assert filters, plan
        assert all("current_setting" not in line for line in filters), plan
        assert "InitPlan" in plan, plan


def test_a_connection_back_in_the_pool_keeps_nothing_of_its_last_transaction(
    live_server: LiveServer, client: httpx.Client
) -> None:
    """The pool does not reset connections (no RESET ALL round trip on each release): safe only
    while everything a transaction sets is local to it. One pooled connection, used by turns."""
    tenant = _tenant_id(live_server, client)
    settings = (
        "SELECT current_user AS role, current_setting('memory.tenant_id', true) AS tenant, "
        "current_setting('memory.all_tenants', true) AS all_tenants, "
        "current_setting('hnsw.ef_search', true) AS ef_search, "
        "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        " AND pid = pg_backend_pid()) AS advisory_locks"
    )

    async def scenario() -> tuple[asyncpg.Record, asyncpg.Record]:
        database = Database(live_server.dsn, min_size=1, max_size=1, timeout_s=10)
        await database.open()
        try:
            async with database.server_connection() as connection:
                fresh = await connection.fetchrow(settings)
            async with database.transaction(tenant) as connection:
                await connection.execute("SELECT pg_advisory_xact_lock(42)")
                await connection.execute("SELECT set_config('hnsw.ef_search', '77', true)")
            with pytest.raises(InvalidRequest):  # a DataError, as the service maps it
                async with database.connection(tenant) as connection:
                    await connection.execute("SELECT set_config('hnsw.ef_search', '78', true)")
                    await connection.fetchval("SELECT 1 / 0")
            async with database.server_connection() as connection:
                after = await connection.fetchrow(settings)
            assert fresh is not None and after is not None
            return fresh, after
        finally:
            await database.close()

    fresh, after = asyncio.run(scenario())
    assert after["role"] == fresh["role"] != "memory_service_app"
    assert after["advisory_locks"] == 0
    # Once set in a transaction, a custom setting reads '' after it (NULL before the first).
    assert after["tenant"] in (None, "") and after["all_tenants"] in (None, "")
    assert after["ef_search"] in (None, "", "40")  # 40: pgvector's default, once loaded
