"""Where a search's database phase goes: its round trips and statements, one at a time.

A search reads through the service's own storage code in one read-only transaction: BEGIN,
the statement naming the tenant, the hybrid ranking statement (the scope's count, both
rankings), the read of the memories returned, COMMIT. This times each part on its own over
many scopes of a data directory loaded by ``python -m benchmarks.seed_data_dir`` (no HTTP, no
embedding: the query vectors are stored memories' vectors), so that a change to one part is
seen apart from the machine's noise in the others. The directory is only read (start it on a
copy when another run will use it).

    python -m benchmarks.search_database DIR [--searches 400] [--explain]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks.synthetic import question
from service.adapters.embedded_postgres import start_embedded_postgres
from service.models import Bm25Parameters, Scope
from service.settings import Settings
from service.storage import memories as store
from service.storage.database import ALL_TENANTS, Database
from service.storage.keyword_search import search_hybrid_exact

WARM_UP = 50
SCOPES = 200  # users searched, in turn


async def measure(pgdata: Path, searches: int, explain: bool) -> dict[str, Any]:
    settings = Settings()
    dsn = start_embedded_postgres(pgdata, shared_buffers_mb=settings.embedded_shared_buffers_mb)
    database = Database(dsn, min_size=2, max_size=2, timeout_s=60)
    await database.open()
    try:
        async with database.connection(ALL_TENANTS) as connection:
            scopes = await connection.fetch(
                "SELECT tenant_id, user_id, count(*) AS memories FROM memories "
                "WHERE user_id IS NOT NULL GROUP BY 1, 2 ORDER BY 2 LIMIT $1",
                SCOPES,
            )
            vectors = [
                row["embedding"]
                for row in await connection.fetch("SELECT embedding FROM memories LIMIT $1", SCOPES)
            ]
            table = await connection.fetchval("SELECT count(*) FROM memories")
        bm25 = Bm25Parameters(settings.hybrid_bm25_k1, settings.hybrid_bm25_b)
        rng = random.Random(5)
        queries = [question(rng, n) for n in range(SCOPES)]

        def search_input(n: int) -> tuple[uuid.UUID, Scope, str, Any]:
            tenant, user = scopes[n % len(scopes)]["tenant_id"], scopes[n % len(scopes)]["user_id"]
            return tenant, Scope(user_id=user), queries[n % SCOPES], vectors[n % len(vectors)]

        async def rank(connection: asyncpg.Connection, n: int) -> list[uuid.UUID]:
            tenant, scope, query, vector = search_input(n)
            ranked = await search_hybrid_exact(
                connection,
                tenant,
                scope,
                None,
                query,
                vector,
                settings.hybrid_candidates,
                bm25,
                settings.exact_search_max_rows,
            )
            assert ranked is not None, "the scope is larger than MEMORY_EXACT_SEARCH_MAX_ROWS"
            return [candidate.id for candidate in ranked.dense[:10]]

        watch = Stopwatch()
        for n in range(searches + WARM_UP):
            watch.recording = n >= WARM_UP
            tenant = search_input(n)[0]

            async def search(
                connection: asyncpg.Connection, n: int = n, tenant: uuid.UUID = tenant
            ) -> None:
                await store.find_memories(connection, tenant, await rank(connection, n))

            with watch.part("the whole read (as a search runs it)"):
                await database.read(tenant, search)
            with watch.part("an empty read transaction"):
                await database.read(tenant, _nothing)
            async with database.connection(tenant) as connection:
                with watch.part("the ranking statement"):
                    ids = await rank(connection, n)
                with watch.part("reading the 10 returned"):
                    await store.find_memories(connection, tenant, ids)
                with watch.part("one round trip (SELECT 1)"):
                    await connection.fetchval("SELECT 1")
        plan = await _explain(database, search_input, rank) if explain else None
    finally:
        await database.close()
    sizes = [row["memories"] for row in scopes]
    return {
        "memories": table,
        "scope_memories_median": statistics.median(sizes),
        "searches": searches,
        "parts_ms": {
            name: {
                "p50": round(statistics.median(samples) * 1000, 3),
                "mean": round(statistics.fmean(samples) * 1000, 3),
            }
            for name, samples in watch.samples.items()
        },
        "plan": plan,
    }


class Stopwatch:
    """Seconds each named part took, once ``recording`` (after the warm-up)."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self.recording = False

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        if self.recording:
            self.samples.setdefault(name, []).append(time.perf_counter() - started)


async def _nothing(connection: asyncpg.Connection) -> None:
    return None


async def _explain(
    database: Database,
    search_input: Callable[[int], tuple[uuid.UUID, Scope, str, Any]],
    rank: Callable[[asyncpg.Connection, int], Awaitable[list[uuid.UUID]]],
) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the ranking statement, as the service's role runs it."""
    tenant = search_input(0)[0]
    statements: list[tuple[str, tuple[Any, ...]]] = []
    async with database.connection(tenant) as connection:
        connection.add_query_logger(lambda record: statements.append((record.query, record.args)))
        await rank(connection, 0)
        await asyncio.sleep(0)  # asyncpg calls query loggers soon after, not at once
        query, args = statements[-1]
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query}", *args)
    return "\n".join(row[0] for row in rows)


def print_table(results: dict[str, Any]) -> None:
    print(
        f"\nA search's database phase by part: {results['memories']} memories, scopes of "
        f"{results['scope_memories_median']:.0f} (median), {results['searches']} searches"
    )
    header = f"{'part':<40} | {'p50 ms':>8} | {'mean ms':>8}"
    print(header)
    print("-" * len(header))
    for name, cost in results["parts_ms"].items():
        print(f"{name:<40} | {cost['p50']:>8} | {cost['mean']:>8}")
    if results["plan"]:
        print("\nThe ranking statement, EXPLAIN (ANALYZE, BUFFERS):\n" + results["plan"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="from python -m benchmarks.seed_data_dir")
    parser.add_argument("--searches", type=int, default=400)
    parser.add_argument("--explain", action="store_true", help="also print the statement's plan")
    args = parser.parse_args()
    print_table(asyncio.run(measure(args.data_dir / "pgdata", args.searches, args.explain)))


if __name__ == "__main__":
    main()
