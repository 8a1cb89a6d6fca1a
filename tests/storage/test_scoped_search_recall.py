"""A scoped search returns the scope's true nearest memories, however many rows others hold.

Recall is measured against exact (brute-force) ranking on the real table with its HNSW index.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import asyncpg
import numpy as np
import numpy.typing as npt
import pytest
from pgvector.asyncpg import register_vector

from service.models import Scope
from service.settings import Settings
from service.storage import memories, vector_search

DIMENSIONS = 384
OTHER_USERS = 15
ROWS_PER_OTHER_USER = 1000
LARGE_SCOPE_ROWS = 3000
SMALL_SCOPE_ROWS = 60
QUERIES = 20
K = 10


def clustered_vectors(rng: np.random.Generator, count: int) -> npt.NDArray[np.float32]:
    """Unit vectors around a per-user centre, like one person's memories on a few topics."""
    centre = rng.normal(size=DIMENSIONS)
    vectors = centre + rng.normal(scale=1.5, size=(count, DIMENSIONS))
    unit: npt.NDArray[np.float32] = (
        vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    ).astype(np.float32)
    return unit


async def seed(dsn: str) -> uuid.UUID:
    rng = np.random.default_rng(7)
    connection = await asyncpg.connect(dsn)
    await register_vector(connection)
    tenant_id: uuid.UUID = await connection.fetchval(
        "INSERT INTO tenants (name) VALUES ($1) RETURNING id", f"recall-{uuid.uuid4().hex[:8]}"
    )
    users = [(f"other-{n}", ROWS_PER_OTHER_USER) for n in range(OTHER_USERS)]
    users += [("large", LARGE_SCOPE_ROWS), ("small", SMALL_SCOPE_ROWS)]
    records = []
    for user, count in users:
        for index, vector in enumerate(clustered_vectors(rng, count)):
            text = f"{user} memory {index}"
            records.append((tenant_id, user, text, hashlib.sha256(text.encode()).digest(), vector))
    await connection.copy_records_to_table(
        "memories",
        records=records,
        columns=["tenant_id", "user_id", "content", "content_hash", "embedding"],
    )
    await connection.execute("ANALYZE memories")
    await connection.close()
    return tenant_id


async def measure_recall(dsn: str, tenant_id: uuid.UUID, user: str, ef_search: int) -> float:
    rng = np.random.default_rng(11)
    connection = await asyncpg.connect(dsn)
    await register_vector(connection)
    await connection.set_type_codec("jsonb", encoder=str, decoder=lambda s: s, schema="pg_catalog")
    centre_row = await connection.fetchval(
        "SELECT embedding FROM memories WHERE tenant_id = $1 AND user_id = $2 LIMIT 1",
        tenant_id,
        user,
    )
    found = 0
    scope = Scope(user_id=user)
    for _ in range(QUERIES):
        query = centre_row.to_numpy() + rng.normal(scale=0.05, size=DIMENSIONS)
        query = (query / np.linalg.norm(query)).astype(np.float32)
        exact = await vector_search.search_exact(connection, tenant_id, scope, None, query, K)
        async with connection.transaction():
            approximate = await vector_search.search_with_index(
                connection, tenant_id, scope, None, query, K, ef_search
            )
        read = await memories.find_memories(connection, tenant_id, [h.id for h in approximate])
        assert len(read) == len(approximate)
        assert all(m.scope.user_id == user for m in read.values())
        found += len({h.id for h in exact} & {h.id for h in approximate})
    await connection.close()
    return found / (QUERIES * K)


@pytest.fixture(scope="module")
def seeded_tenant(migrated_dsn: str) -> uuid.UUID:
    return asyncio.run(seed(migrated_dsn))


@pytest.mark.parametrize("user", ["large", "small"])
def test_index_search_within_scope_matches_exact_search(
    migrated_dsn: str, seeded_tenant: uuid.UUID, user: str
) -> None:
    ef_search = Settings().hnsw_ef_search
    recall = asyncio.run(measure_recall(migrated_dsn, seeded_tenant, user, ef_search))

    print(f"recall@{K} of the HNSW path for scope {user!r}: {recall:.3f}")
    assert recall >= 0.95
