"""The one-statement hybrid ranking of a small scope returns what the two rankings it replaces
return: the scope's true nearest memories (checked against a brute-force cosine ranking), the
same keyword matches and BM25 scores, with filters honoured and no row of another tenant or
scope."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import asyncpg
import numpy as np
import numpy.typing as npt
import pytest
from pgvector.asyncpg import register_vector

from service.domain.filters import parse_filter
from service.models import Bm25Parameters, Candidate, FilterNode, Scope
from service.storage import keyword_search, vector_search

DIMENSIONS = 384
ROWS = 300
DEPTH = 25
BM25 = Bm25Parameters(1.2, 0.3)
WORDS = [
    *("hiking", "mountains", "cello", "peanuts", "Lisbon"),
    *("nurse", "garden", "coffee", "marathon", "piano"),
]
QUESTION = "Which mountains did she go hiking in, and does she still play the cello?"


def unit(vectors: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    normed: npt.NDArray[np.float32] = (
        vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    ).astype(np.float32)
    return normed


def rows_of(tenant_id: uuid.UUID, user: str, rng: np.random.Generator) -> list[tuple[object, ...]]:
    """``ROWS`` memories of ``user``: two or three of the words each, a category, a vector."""
    rows: list[tuple[object, ...]] = []
    for index, vector in enumerate(unit(rng.normal(size=(ROWS, DIMENSIONS)))):
        words = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 4)), replace=False))
        text = f"{user} note {index} about {words}"
        category = ["health", "hobby", "work"][index % 3]
        rows.append(
            (
                tenant_id,
                user,
                text,
                hashlib.sha256(text.encode()).digest(),
                vector,
                json.dumps({"category": category}),
            )
        )
    return rows


async def seed(dsn: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Two tenants, each with users 'alice' and 'bob' (the same user ids in both)."""
    rng = np.random.default_rng(19)
    connection = await asyncpg.connect(dsn)
    await register_vector(connection)
    tenants = []
    records: list[tuple[object, ...]] = []
    for _ in range(2):
        tenant_id: uuid.UUID = await connection.fetchval(
            "INSERT INTO tenants (name) VALUES ($1) RETURNING id", f"hybrid-{uuid.uuid4().hex[:8]}"
        )
        tenants.append(tenant_id)
        records += rows_of(tenant_id, "alice", rng) + rows_of(tenant_id, "bob", rng)
    await connection.copy_records_to_table(
        "memories",
        records=records,
        columns=["tenant_id", "user_id", "content", "content_hash", "embedding", "metadata"],
    )
    await connection.close()
    return tenants[0], tenants[1]


@pytest.fixture(scope="module")
def tenants(migrated_dsn: str) -> tuple[uuid.UUID, uuid.UUID]:
    return asyncio.run(seed(migrated_dsn))


async def brute_force_nearest(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    query: npt.NDArray[np.float32],
    category: str | None,
) -> list[uuid.UUID]:
    """Alice's ids (of ``category``), nearest ``query`` first, ranked in numpy."""
    rows = await connection.fetch(
        "SELECT id, embedding, metadata->>'category' AS category FROM memories "
        "WHERE tenant_id = $1 AND user_id = 'alice'",
        tenant_id,
    )
    kept = [row for row in rows if category is None or row["category"] == category]
    similarity = np.stack([row["embedding"].to_numpy() for row in kept]) @ query
    return [kept[int(i)]["id"] for i in np.argsort(-similarity)]


def keyed(found: list[Candidate], scores: list[float]) -> list[tuple[float, float, uuid.UUID]]:
    return sorted(
        (round(score, 9), round(each.similarity, 9), each.id)
        for each, score in zip(found, scores, strict=True)
    )


async def compare(dsn: str, tenant_id: uuid.UUID, filters: FilterNode | None) -> None:
    connection = await asyncpg.connect(dsn)
    await register_vector(connection)
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )
    rng = np.random.default_rng(23)
    scope = Scope(user_id="alice")
    owned = {
        row["id"]
        for row in await connection.fetch(
            "SELECT id FROM memories WHERE tenant_id = $1 AND user_id = 'alice'", tenant_id
        )
    }
    category = None if filters is None else "hobby"
    for _ in range(5):
        query = unit(rng.normal(size=DIMENSIONS))
        # Deep enough for every row: a cut through equal BM25 scores would be arbitrary.
        ranked = await keyword_search.search_hybrid_exact(
            connection, tenant_id, scope, filters, QUESTION, query, ROWS, BM25, max_rows=ROWS
        )
        assert ranked is not None
        dense, sparse, scores = ranked
        # The statements it replaces, run apart.
        assert dense == await vector_search.search_exact(
            connection, tenant_id, scope, filters, query, ROWS
        )
        apart, apart_scores = await keyword_search.search_keyword(
            connection, tenant_id, scope, filters, QUESTION, query, ROWS, BM25
        )
        # Sums of the same terms in another order may differ in the last bit.
        assert keyed(sparse, scores) == keyed(apart, apart_scores)
        # The true nearest of the scope, and only the tenant's own rows of the scope.
        assert [found.id for found in dense] == await brute_force_nearest(
            connection, tenant_id, query, category
        )
        assert 0 < len(sparse) < len(dense)
        assert scores == sorted(scores, reverse=True)
        assert {found.id for found in dense + sparse} <= owned
        if filters is not None:
            categories = await connection.fetch(
                "SELECT DISTINCT metadata->>'category' FROM memories WHERE id = ANY($1)",
                [found.id for found in dense + sparse],
            )
            assert [row[0] for row in categories] == ["hobby"]
        few = await keyword_search.search_hybrid_exact(
            connection, tenant_id, scope, filters, QUESTION, query, DEPTH, BM25, max_rows=ROWS
        )
        assert few is not None
        assert few[0] == dense[:DEPTH]
        assert len(few[1]) == len(few[2]) == DEPTH
    await connection.close()


@pytest.mark.parametrize("filtered", [False, True])
def test_hybrid_ranking_in_one_statement_matches_both_rankings(
    migrated_dsn: str, tenants: tuple[uuid.UUID, uuid.UUID], filtered: bool
) -> None:
    filters = parse_filter({"category": "hobby"}) if filtered else None
    for tenant_id in tenants:
        asyncio.run(compare(migrated_dsn, tenant_id, filters))
