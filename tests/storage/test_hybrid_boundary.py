"""The one-statement hybrid ranking at the exact/HNSW boundary, which the statement counts
itself (expired rows not purged yet count too), and its BM25 scores checked against an
independent Python computation (not against ``search_keyword``, which shares
``_bm25_ranking`` with it and so cannot catch a regression there)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import math
import uuid
from collections import Counter

import asyncpg
import numpy as np
import numpy.typing as npt
import pytest
from pgvector.asyncpg import register_vector

from service.models import Bm25Parameters, Scope
from service.storage import keyword_search

DIMENSIONS = 384
MAX_ROWS = 12
BM25 = Bm25Parameters(1.2, 0.75)
WORDS = ["cello", "hiking", "peanuts", "Lisbon", "coffee", "garden", "marathon", "nurse"]


def unit(rng: np.random.Generator) -> npt.NDArray[np.float32]:
    vector = rng.normal(size=DIMENSIONS)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


async def seed(dsn: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Two tenants with the same user ids: 'exact' (MAX_ROWS live), 'plus' (MAX_ROWS + 1),
    'expired' (MAX_ROWS live + 1 expired, not purged), 'few' (3)."""
    rng = np.random.default_rng(7)
    connection = await asyncpg.connect(dsn)
    await register_vector(connection)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    tenants, records = [], []
    for _ in range(2):
        tenant: uuid.UUID = await connection.fetchval(
            "INSERT INTO tenants (name) VALUES ($1) RETURNING id",
            f"boundary-{uuid.uuid4().hex[:8]}",
        )
        tenants.append(tenant)
        plan = [("exact", MAX_ROWS, 0), ("plus", MAX_ROWS + 1, 0), ("expired", MAX_ROWS, 1)]
        plan.append(("few", 3, 0))
        for user, live, expired in plan:
            for index in range(live + expired):
                words = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 5))))
                text = f"{user} note {index}: {words} and {words}"
                records.append(
                    (
                        tenant,
                        user,
                        text,
                        hashlib.sha256(f"{tenant}{text}{index}".encode()).digest(),
                        unit(rng),
                        past if index >= live else None,
                    )
                )
    await connection.copy_records_to_table(
        "memories",
        records=records,
        columns=["tenant_id", "user_id", "content", "content_hash", "embedding", "expires_at"],
    )
    await connection.close()
    return tenants[0], tenants[1]


@pytest.fixture(scope="module")
def tenants(migrated_dsn: str) -> tuple[uuid.UUID, uuid.UUID]:
    return asyncio.run(seed(migrated_dsn))


async def hybrid(
    dsn: str, tenant: uuid.UUID, user: str, text: str, max_rows: int = MAX_ROWS
) -> keyword_search.HybridRankings | None:
    connection = await asyncpg.connect(dsn)
    await register_vector(connection)
    try:
        query = unit(np.random.default_rng(3))
        return await keyword_search.search_hybrid_exact(
            connection, tenant, Scope(user_id=user), None, text, query, 100, BM25, max_rows
        )
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("user", "ranked_exactly"),
    [("exact", True), ("plus", False), ("expired", False), ("few", True), ("nobody", True)],
)
def test_the_boundary_is_counted_inside_the_statement(
    migrated_dsn: str, tenants: tuple[uuid.UUID, uuid.UUID], user: str, ranked_exactly: bool
) -> None:
    tenant = tenants[0]
    found = asyncio.run(hybrid(migrated_dsn, tenant, user, "cello and peanuts"))
    assert (found is not None) == ranked_exactly
    if found is None:
        return
    ids = [each.id for each in found.dense] + [each.id for each in found.sparse]
    owners = asyncio.run(_owners(migrated_dsn, ids))
    # Only this tenant's live memories of this user, every one of them on the dense side.
    assert all(owner == (tenant, user, None) for owner in owners.values())
    expected = {"exact": MAX_ROWS, "few": 3, "nobody": 0}[user]
    assert len(found.dense) == expected


@pytest.mark.parametrize("text", ["", "   ", "the and of it", "!!! ??? ...", "🎉🎉", "東京"])
def test_a_query_without_lexemes_ranks_by_vector_alone(
    migrated_dsn: str, tenants: tuple[uuid.UUID, uuid.UUID], text: str
) -> None:
    found = asyncio.run(hybrid(migrated_dsn, tenants[0], "exact", text))
    assert found is not None
    assert len(found.dense) == MAX_ROWS
    assert found.sparse == [] and found.keyword_scores == []


@pytest.mark.parametrize("text", ["cello", "peanuts in Lisbon", "Which garden? coffee, cello!"])
def test_bm25_scores_match_an_independent_computation(
    migrated_dsn: str, tenants: tuple[uuid.UUID, uuid.UUID], text: str
) -> None:
    tenant = tenants[0]
    found = asyncio.run(hybrid(migrated_dsn, tenant, "exact", text))
    assert found is not None
    expected = asyncio.run(_bm25_in_python(migrated_dsn, tenant, "exact", text))
    got = {each.id: score for each, score in zip(found.sparse, found.keyword_scores, strict=True)}
    assert got.keys() == expected.keys()
    for key, score in expected.items():
        assert got[key] == pytest.approx(score, rel=1e-9)
    # And the exact dense side is the brute-force cosine order.
    dense = asyncio.run(_dense_exact(migrated_dsn, tenant, "exact"))
    assert [each.id for each in found.dense] == dense


async def _owners(dsn: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[object, ...]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT id, tenant_id, user_id, expires_at FROM memories WHERE id = ANY($1)", ids
        )
        return {row["id"]: (row["tenant_id"], row["user_id"], row["expires_at"]) for row in rows}
    finally:
        await connection.close()


async def _dense_exact(dsn: str, tenant: uuid.UUID, user: str) -> list[uuid.UUID]:
    connection = await asyncpg.connect(dsn)
    await register_vector(connection)
    try:
        rows = await connection.fetch(
            "SELECT id, embedding FROM memories WHERE tenant_id = $1 AND user_id = $2 "
            "AND (expires_at IS NULL OR expires_at > now())",
            tenant,
            user,
        )
    finally:
        await connection.close()
    query = unit(np.random.default_rng(3))
    similarity = [float(np.dot(row["embedding"].to_numpy(), query)) for row in rows]
    return [rows[int(i)]["id"] for i in np.argsort(-np.array(similarity), kind="stable")]


async def _bm25_in_python(
    dsn: str, tenant: uuid.UUID, user: str, text: str
) -> dict[uuid.UUID, float]:
    """Okapi BM25 as the docstring describes it (IDF over the scope, tf = positions, length =
    the tsvector's lexeme count), computed row by row in Python from Postgres' lexemes only."""
    connection = await asyncpg.connect(dsn)
    try:
        query = set(
            await connection.fetchval(
                "SELECT tsvector_to_array(to_tsvector('english', $1::text))", text
            )
        )
        rows = await connection.fetch(
            "SELECT id, length(content_terms) AS length, "
            "(SELECT array_agg(lexeme || ':' || coalesce(cardinality(positions), 1)) "
            " FROM unnest(content_terms)) AS terms "
            "FROM memories WHERE tenant_id = $1 AND user_id = $2 "
            "AND (expires_at IS NULL OR expires_at > now())",
            tenant,
            user,
        )
    finally:
        await connection.close()
    documents = {
        row["id"]: (
            row["length"],
            {t.rsplit(":", 1)[0]: int(t.rsplit(":", 1)[1]) for t in row["terms"] or []},
        )
        for row in rows
    }
    size = len(documents)
    average = sum(length for length, _ in documents.values()) / size
    frequency: Counter[str] = Counter(
        term for _, terms in documents.values() for term in terms if term in query
    )
    k1, b = BM25.k1, BM25.b
    scores = {}
    for key, (length, terms) in documents.items():
        shared = [term for term in terms if term in query]
        if not shared:
            continue
        scores[key] = sum(
            math.log(1 + (size - frequency[t] + 0.5) / (frequency[t] + 0.5))
            * terms[t]
            * (k1 + 1)
            / (terms[t] + k1 * (1 - b + b * length / average))
            for t in shared
        )
    return scores
