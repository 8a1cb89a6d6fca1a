"""Keyword ranking of a scope's memories: Postgres full-text matching scored with BM25."""

from __future__ import annotations

import uuid
from typing import NamedTuple

import asyncpg

from service.models import Bm25Parameters, Candidate, FilterNode, Scope, Vector
from service.storage.filter_sql import SqlParameters, filter_condition, scope_condition
from service.storage.vector_search import (
    CANDIDATE_COLUMNS,
    candidates_from,
    capped_count_sql,
)


class HybridRankings(NamedTuple):
    """A scope's nearest memories by cosine, its best by BM25, and their BM25 scores."""

    dense: list[Candidate]
    sparse: list[Candidate]
    keyword_scores: list[float]


async def search_keyword(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    scope: Scope,
    filters: FilterNode | None,
    text: str,
    query_vector: Vector,
    limit: int,
    bm25: Bm25Parameters,
) -> tuple[list[Candidate], list[float]]:
    """Full-text matches of any of the query's words, best BM25 score first, and the scores.

    The query's words are stemmed like the content and ORed: a question shares some words
    with the memory that answers it, rarely all of them. BM25 weighs each word by how rare it
    is in the searched scope (its IDF), so a name that every memory of a user carries counts
    for little and a rare word for much; Postgres' own ts_rank has no such weight. The
    candidates carry their cosine similarity; the second list holds their BM25 scores.

    Every CTE is MATERIALIZED: inlined, the planner (misled by a fresh table's missing
    statistics) re-ran the scope's count and the query parsing once per matching term. The
    scope's rows are read once, through the scope's index, and matched there: left to itself
    the planner matched the query's words through the full-text index over the whole table
    and intersected that with the scope, which is every row of the table sharing a word,
    several times slower at a million memories (docs/benchmarks.md). Both ways read every row
    of the scope, which BM25's statistics need.
    """
    params = SqlParameters(tenant_id)
    where = f"{scope_condition(scope, params)} AND {filter_condition(filters, params)}"
    ranked = _bm25_ranking(params, where, "id, content_terms", text, bm25)
    vector = params.add(query_vector)
    rows = await connection.fetch(
        f"""
        WITH {ranked}
        SELECT {CANDIDATE_COLUMNS}, embedding <=> {vector} AS distance, scores.bm25
        FROM scores JOIN memories USING (id)
        ORDER BY scores.bm25 DESC, id
        LIMIT {params.add(limit)}
        """,
        *params.values,
    )
    return candidates_from(rows), [float(row["bm25"]) for row in rows]


async def search_hybrid_exact(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    scope: Scope,
    filters: FilterNode | None,
    text: str,
    query_vector: Vector,
    limit: int,
    bm25: Bm25Parameters,
    max_rows: int,
) -> HybridRankings | None:
    """Both rankings of a scope of at most ``max_rows`` memories in one statement: the
    ``limit`` nearest memories by cosine (exactly, as ``vector_search.search_exact``), and the
    ``limit`` best by BM25 (as ``search_keyword``) with their scores. None when the scope holds
    more (rank it through the HNSW index instead).

    Each ranking reads every row of the scope, and a scope's rows lie scattered over the
    heap (one page each, once the table is large): read once for both, a hybrid search
    visits each page once instead of twice. The scope's size is counted in the same
    statement before any row is read (its btree entries, no further than ``max_rows + 1``),
    so a small scope, the common case, takes one round trip, and a large one costs only the
    count. The distance is computed as the rows are read, so the scope is held without its
    vectors.
    """
    params = SqlParameters(tenant_id)
    where = f"{scope_condition(scope, params)} AND {filter_condition(filters, params)}"
    size = capped_count_sql(scope, params, max_rows + 1)
    # Not correlated with the rows: a one-time test, so a large scope's rows are never read.
    where += f" AND (SELECT memories FROM size) <= {params.add(max_rows)}"
    columns = f"id, created_at, content_terms, embedding <=> {params.add(query_vector)} AS distance"
    ranked = _bm25_ranking(params, where, columns, text, bm25)
    depth = params.add(limit)
    rows = await connection.fetch(
        f"""
        WITH size AS MATERIALIZED ({size}),
        {ranked},
        dense AS (
            SELECT id, created_at, distance, NULL::float8 AS bm25 FROM scoped
            ORDER BY distance LIMIT {depth}
        ),
        sparse AS (
            SELECT id, created_at, distance, scores.bm25 FROM scores JOIN scoped USING (id)
            ORDER BY scores.bm25 DESC, id LIMIT {depth}
        )
        SELECT * FROM (
            SELECT -1 AS side, memories AS rank, NULL::uuid AS id,
                   NULL::timestamptz AS created_at, NULL::float8 AS distance,
                   NULL::float8 AS bm25
            FROM size
            UNION ALL
            SELECT 0, row_number() OVER (ORDER BY distance), * FROM dense
            UNION ALL
            SELECT 1, row_number() OVER (ORDER BY bm25 DESC, id), * FROM sparse
        ) ranked ORDER BY side, rank
        """,
        *params.values,
    )
    if rows[0]["rank"] > max_rows:  # the scope's size, counted up to max_rows + 1
        return None
    sparse = [row for row in rows if row["side"] == 1]
    return HybridRankings(
        candidates_from([row for row in rows if row["side"] == 0]),
        candidates_from(sparse),
        [float(row["bm25"]) for row in sparse],
    )


def _bm25_ranking(
    params: SqlParameters, where: str, scoped_columns: str, text: str, bm25: Bm25Parameters
) -> str:
    """The CTEs that score the scope's rows matching any of the query's words: ``scoped``
    (``scoped_columns`` of the scope's rows, ``id`` and ``content_terms`` among them) and
    ``scores`` (id, bm25) of those matching."""
    terms = params.add(text)
    # float8 throughout: numeric, Postgres' default here, is about twice as slow.
    k1, b = f"{params.add(bm25.k1)}::float8", f"{params.add(bm25.b)}::float8"
    return f"""
        query AS MATERIALIZED (
            SELECT array_agg(lexeme) AS lexemes,
                   to_tsquery('simple', coalesce(string_agg(quote_literal(lexeme), ' | '), ''))
                   AS tsquery
            FROM unnest(tsvector_to_array(to_tsvector('english', {terms}::text))) AS lexeme
        ),
        scoped AS MATERIALIZED (
            SELECT {scoped_columns} FROM memories WHERE {where}
        ),
        collection AS MATERIALIZED (
            SELECT count(*)::float8 AS size,
                   coalesce(avg(length(content_terms))::float8, 1) AS average_length
            FROM scoped
        ),
        term_frequencies AS MATERIALIZED (
            SELECT matching.id, term.lexeme,
                   coalesce(cardinality(term.positions), 1)::float8 AS frequency,
                   length(matching.content_terms)::float8 AS length
            FROM (
                SELECT scoped.id, scoped.content_terms FROM scoped, query
                WHERE scoped.content_terms @@ query.tsquery
            ) matching, query, unnest(matching.content_terms) AS term
            WHERE term.lexeme = ANY(query.lexemes)
        ),
        document_frequencies AS MATERIALIZED (
            SELECT lexeme, count(*)::float8 AS documents FROM term_frequencies GROUP BY lexeme
        ),
        scores AS (
            SELECT t.id,
                   sum(
                       ln(1 + (c.size - d.documents + 0.5) / (d.documents + 0.5))
                       * t.frequency * ({k1} + 1)
                       / (t.frequency + {k1} * (1 - {b} + {b} * t.length / c.average_length))
                   ) AS bm25
            FROM term_frequencies t JOIN document_frequencies d USING (lexeme), collection c
            GROUP BY t.id
        )"""
