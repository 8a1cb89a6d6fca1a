"""Forgetting: a scope's memories with every trace of them, and expired memories.

These statements reach beyond the memories table (history, feedback, jobs, the record of
ingested messages), so they live together here. Callers own the transaction.
"""

from __future__ import annotations

import uuid

import asyncpg

from service.models import SCOPE_FIELDS, Scope
from service.storage.filter_sql import SqlParameters, scope_condition


async def delete_scope(connection: asyncpg.Connection, tenant_id: uuid.UUID, scope: Scope) -> int:
    """Forget a scope entirely: its memories, their history and feedback, its ingestion jobs
    (their input holds the conversation) and its record of ingested messages."""
    params = SqlParameters(tenant_id)
    memories_where = scope_condition(scope, params, live_only=False)
    history_where = " AND ".join(
        f"{column} = {params.add(value)}" for column, value in scope.items()
    )
    jobs_where = " AND ".join(
        f"request -> 'scope' ->> '{column}' = {params.add(value)}"
        for column, value in scope.items()
    )
    ingested_where = " AND ".join(
        f"(scope_key::jsonb) ->> {SCOPE_FIELDS.index(column)} = {params.add(value)}"
        for column, value in scope.items()
    )
    deleted: int = await connection.fetchval(
        f"""
        WITH gone AS (
            DELETE FROM memories WHERE {memories_where} RETURNING id
        ), history AS (
            DELETE FROM memory_history
            WHERE tenant_id = $1 AND (memory_id IN (SELECT id FROM gone) OR ({history_where}))
        ), feedback AS (
            DELETE FROM memory_feedback WHERE tenant_id = $1 AND memory_id IN (SELECT id FROM gone)
        ), jobs AS (
            DELETE FROM ingest_jobs WHERE tenant_id = $1 AND {jobs_where}
        ), ingested AS (
            DELETE FROM ingested_messages WHERE tenant_id = $1 AND {ingested_where}
        )
        SELECT count(*) FROM gone
        """,
        *params.values,
    )
    return deleted


async def purge_expired(connection: asyncpg.Connection, limit: int) -> int:
    """Delete up to ``limit`` expired memories of every tenant (soonest expired first), with
    their history and feedback; how many went. Rows another transaction holds are left for the
    next call (the service's processes purge side by side)."""
    purged: int = await connection.fetchval(
        """
        WITH gone AS (
            DELETE FROM memories WHERE id IN (
                -- expires_at <= now(): the expired (NOT LIVE), read from the expiry index
                SELECT id FROM memories WHERE expires_at <= now()
                ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
            ) RETURNING tenant_id, id
        ), history AS (
            DELETE FROM memory_history h USING gone
            WHERE h.tenant_id = gone.tenant_id AND h.memory_id = gone.id
        ), feedback AS (
            DELETE FROM memory_feedback f USING gone
            WHERE f.tenant_id = gone.tenant_id AND f.memory_id = gone.id
        )
        SELECT count(*) FROM gone
        """,
        limit,
    )
    return purged
