"""Nearest memories by embedding within a scope: exactly over a small scope, through the HNSW
index over a large one. Callers own the connection (and any transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from service.models import Candidate, FilterNode, Scope, SearchHit, Vector
from service.storage.filter_sql import (
    SqlParameters,
    exact_scope_condition,
    filter_condition,
    scope_condition,
)
from service.storage.memories import COLUMNS, memory_from_row, time_from_db

# What a search reads of each candidate; the text and the rest only of those it returns.
CANDIDATE_COLUMNS = "id, created_at"


async def count_scope_up_to(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, scope: Scope, cap: int
) -> int:
    """How many memories the scope holds, counting no further than ``cap`` (bounded cost)."""
    params = SqlParameters(tenant_id)
    count: int = await connection.fetchval(capped_count_sql(scope, params, cap), *params.values)
    return count


def capped_count_sql(scope: Scope, params: SqlParameters, cap: int) -> str:
    """A statement (or subquery) counting the scope's memories no further than ``cap``.

    Expired memories not purged yet are counted too: the count only picks the search's
    strategy, and without the expiry test it is read from the scope's index alone (an
    index-only scan) instead of visiting every row.
    """
    where = scope_condition(scope, params, live_only=False)
    return (
        f"SELECT count(*) AS memories "
        f"FROM (SELECT 1 FROM memories WHERE {where} LIMIT {params.add(cap)}) s"
    )


async def search_exact(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    scope: Scope,
    filters: FilterNode | None,
    query_vector: Vector,
    limit: int,
) -> list[Candidate]:
    """Exact cosine ranking over the scope's rows (read through the scope's btree index)."""
    params = SqlParameters(tenant_id)
    where = f"{scope_condition(scope, params)} AND {filter_condition(filters, params)}"
    sql = _exact_ranking(CANDIDATE_COLUMNS, params, where, query_vector, limit)
    return candidates_from(await connection.fetch(sql, *params.values))


async def nearest_in_exact_scope(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    scope: Scope,
    query_vector: Vector,
    limit: int = 1,
) -> list[SearchHit]:
    """The closest memories written under exactly this scope (duplicates, candidates)."""
    params = SqlParameters(tenant_id)
    where = exact_scope_condition(scope, params)
    rows = await connection.fetch(
        _exact_ranking(COLUMNS, params, where, query_vector, limit), *params.values
    )
    return [SearchHit(memory_from_row(row), 1.0 - float(row["distance"])) for row in rows]


async def search_with_index(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    scope: Scope,
    filters: FilterNode | None,
    query_vector: Vector,
    limit: int,
    ef_search: int,
) -> list[Candidate]:
    """HNSW search with iterative scans, so scope and filters cannot starve the result."""
    params = SqlParameters(tenant_id)
    where = f"{scope_condition(scope, params)} AND {filter_condition(filters, params)}"
    # The scan settings are local to a transaction (a savepoint inside the caller's).
    async with connection.transaction():
        await connection.execute(
            "SELECT set_config('hnsw.iterative_scan', 'strict_order', true), "
            "set_config('hnsw.ef_search', $1, true), set_config('hnsw.max_scan_tuples', $2, true)",
            str(max(ef_search, limit)),
            str(max(20_000, ef_search * 200)),
        )
        rows = await connection.fetch(
            f"""
            SELECT {CANDIDATE_COLUMNS}, embedding <=> {params.add(query_vector)} AS distance
            FROM memories WHERE {where} ORDER BY distance LIMIT {params.add(limit)}
            """,
            *params.values,
        )
    return candidates_from(rows)


def candidates_from(rows: Sequence[asyncpg.Record]) -> list[Candidate]:
    return [
        Candidate(row["id"], time_from_db(row["created_at"]), 1.0 - float(row["distance"]))
        for row in rows
    ]


def _exact_ranking(
    columns: str, params: SqlParameters, where: str, query_vector: Vector, limit: int
) -> str:
    # MATERIALIZED keeps the planner from swapping in the approximate HNSW index.
    return f"""
        WITH scoped AS MATERIALIZED (SELECT {columns}, embedding FROM memories WHERE {where})
        SELECT {columns}, embedding <=> {params.add(query_vector)} AS distance FROM scoped
        ORDER BY distance LIMIT {params.add(limit)}
        """
