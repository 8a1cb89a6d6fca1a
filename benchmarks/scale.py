"""Search latency, concurrency and add throughput over HTTP at 10k, 100k and 1M memories,
with Mem0 measured the same way beside us.

`memory-service serve` runs on a fresh embedded Postgres with the per-key rate limit off.
The first size goes in through the batch API (its rate is the batch-add figure at that
size, and its rows, with their real embeddings, are the pool larger sizes are drawn from).
Each larger size is reached by COPYing rows into the table: a pool memory's text with a
number, and its vector nudged by noise, so no two rows are the same point; the HNSW index is
dropped for the load and rebuilt after, as for any bulk import. Everything then measured
goes through the HTTP API, with distinct query texts: single-client search latency, 8
concurrent clients (latency and throughput), single adds and batch adds, and the service's
resident memory (current and peak).

Mem0 shares the Postgres: its collection grows to the same sizes (bulk-inserted with the same
vectors through its own vector store, its indexes dropped for each load and built after, as
ours) and is searched and added to in-process.

    python -m benchmarks.scale [--sizes 10000,100000,1000000] [--mem0-sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

import asyncpg
import httpx
import numpy as np
import numpy.typing as npt
from pgvector.asyncpg import register_vector

from benchmarks import mem0_peer
from benchmarks.harness import SERVICE_SETTINGS, process_status_kb, running_process, write_json
from benchmarks.scale_measure import API_BATCH, QueryTexts, measure_mem0, measure_ours, user_of
from benchmarks.synthetic import sentence
from service.adapters.embedded_postgres import start_embedded_postgres
from service.domain.memories import content_hash

SETTINGS = SERVICE_SETTINGS
COPY_CHUNK = 50_000
MEM0_COLLECTION = "mem0_bench"
NOISE = 0.01  # per dimension; a nudged vector keeps a cosine of ~0.98 to its pool vector


class Pool:
    """Memories with real embeddings, read back from the table, to draw copies from."""

    def __init__(self, texts: list[str], vectors: npt.NDArray[np.float32]) -> None:
        self.texts = texts
        self.vectors = vectors

    def draw(
        self, rng: np.random.Generator, first: int, count: int
    ) -> tuple[list[str], npt.NDArray[np.float32]]:
        picks = rng.integers(0, len(self.texts), count)
        noisy = self.vectors[picks] + rng.normal(0, NOISE, (count, self.vectors.shape[1]))
        vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
        texts = [f"{self.texts[p]} #{first + i}" for i, p in enumerate(picks)]
        return texts, vectors


def seed_through_api(http: httpx.Client, count: int, users: int) -> float:
    """Add ``count`` memories in batches through the API; the rate in memories/s."""
    rng = random.Random(7)
    started = time.perf_counter()
    for first in range(0, count, API_BATCH):
        items = [
            {"text": sentence(rng, n), "user_id": user_of(n, users)}
            for n in range(first, min(first + API_BATCH, count))
        ]
        http.post("/v1/memories/batch", json={"items": items}).raise_for_status()
    return count / (time.perf_counter() - started)


async def read_pool(dsn: str) -> Pool:
    connection = await asyncpg.connect(dsn)
    try:
        await register_vector(connection)
        rows = await connection.fetch("SELECT content, embedding FROM memories ORDER BY id")
    finally:
        await connection.close()
    vectors = np.stack([row["embedding"].to_numpy() for row in rows])
    return Pool([row["content"] for row in rows], vectors)


async def copy_memories(dsn: str, pool: Pool, first: int, stop: int, users: int) -> float:
    """COPY rows ``first``..``stop`` into the only tenant; the seconds it took, index included."""
    started = time.perf_counter()
    rng = np.random.default_rng(first)
    connection = await asyncpg.connect(dsn)
    try:
        await register_vector(connection)
        tenant_id = await connection.fetchval("SELECT id FROM tenants")
        index_sql = await connection.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'memories_embedding_hnsw'"
        )
        await connection.execute("DROP INDEX memories_embedding_hnsw")
        for chunk in range(first, stop, COPY_CHUNK):
            count = min(COPY_CHUNK, stop - chunk)
            texts, vectors = pool.draw(rng, chunk, count)
            records = [
                (tenant_id, user_of(chunk + i, users), text, content_hash(text), vectors[i])
                for i, text in enumerate(texts)
            ]
            await connection.copy_records_to_table(
                "memories",
                records=records,
                columns=["tenant_id", "user_id", "content", "content_hash", "embedding"],
            )
        # The graph must fit in maintenance_work_mem, or the build crawls.
        await connection.execute("SET maintenance_work_mem = '6GB'")
        await connection.execute("SET max_parallel_maintenance_workers = 1")
        await connection.execute(index_sql)
        # Autovacuum would have visited rows that arrived over time; a bulk load is vacuumed
        # by hand so that index-only scans see what a settled database offers.
        await connection.execute("VACUUM (ANALYZE) memories")
    finally:
        await connection.close()
    return time.perf_counter() - started


async def drop_indexes(dsn: str, table: str) -> list[str]:
    """Drop ``table``'s indexes but its primary key; their definitions (none if ``table`` does
    not exist yet)."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            """
            SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS sql
            FROM pg_index i WHERE i.indrelid = to_regclass($1) AND NOT i.indisprimary
            """,
            table,
        )
        for row in rows:
            await connection.execute(f"DROP INDEX {row['name']}")
    finally:
        await connection.close()
    return [row["sql"] for row in rows]


async def build_indexes(dsn: str, table: str, definitions: list[str]) -> None:
    """Build the indexes ``drop_indexes`` dropped, as ``copy_memories`` builds ours."""
    if not definitions:
        return
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SET maintenance_work_mem = '6GB'")
        await connection.execute("SET max_parallel_maintenance_workers = 1")
        for definition in definitions:
            await connection.execute(definition)
        await connection.execute(f'VACUUM "{table}"')
    finally:
        await connection.close()


async def analyze(dsn: str, table: str) -> None:
    """Give the planner the table's statistics, as autovacuum would before long.

    What Mem0's search returns depends on the plan. Measured with Mem0 2.2.1 on 10k memories
    of 1000 users, with statistics: a new ``Memory``'s first ten searches scan the user's rows
    exactly (10 results each); from the eleventh on, 0. That fits psycopg preparing the
    statement after five executions and Postgres keeping a generic plan after five more: one
    that walks the HNSW index and filters its nearest rows by user afterwards. The searches
    measured (after 20 warm-up searches) see that steady state.
    """
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'ANALYZE "{table}"')
    finally:
        await connection.close()


def run(
    sizes: list[int],
    mem0_sizes: list[int],
    users: int,
    searches: int,
    clients: int,
    concurrent_searches_total: int,
) -> dict[str, Any]:
    results: dict[str, Any] = {"ours": {}, "mem0": {}, "seeding_s": {}, "mem0_seeding_s": {}}
    queries = QueryTexts()
    with running_process(SETTINGS) as service:
        dsn = start_embedded_postgres(service.data_dir / "pgdata")
        first_rate = seed_through_api(service.http, sizes[0], users)
        results["api_seed_batch_per_s"] = round(first_rate, 1)
        pool = asyncio.run(read_pool(dsn))
        stored = sizes[0]
        mem0_memory = (
            mem0_peer.mem0_memory(dsn, MEM0_COLLECTION, service.data_dir / "mem0.db")
            if mem0_sizes
            else None
        )
        mem0_stored = 0
        for size in sizes:
            if size > stored:
                seconds = asyncio.run(copy_memories(dsn, pool, stored, size, users))
                results["seeding_s"][str(size)] = round(seconds, 1)
                stored = size
            print(f"measuring at {size} memories", flush=True)
            results["ours"][str(size)] = measure_ours(
                service, queries, users, searches, clients, concurrent_searches_total
            )
            stored += 2200  # measure_adds adds 200 + 2000
            if mem0_memory is not None and size in mem0_sizes:
                started = time.perf_counter()
                # As for ours: a bulk load drops the indexes and builds them again after (the
                # collection and its indexes are made by Mem0 at its first insert).
                indexes = asyncio.run(drop_indexes(dsn, MEM0_COLLECTION))
                grow = np.random.default_rng(size)
                while mem0_stored < size:
                    count = min(5000, size - mem0_stored)
                    texts, vectors = pool.draw(grow, mem0_stored, count)
                    owners = [user_of(mem0_stored + i, users) for i in range(count)]
                    mem0_peer.bulk_insert(mem0_memory, texts, owners, vectors)
                    mem0_stored += count
                asyncio.run(build_indexes(dsn, MEM0_COLLECTION, indexes))
                results["mem0_seeding_s"][str(size)] = round(time.perf_counter() - started, 1)
                asyncio.run(analyze(dsn, MEM0_COLLECTION))
                results["mem0"][str(size)] = measure_mem0(mem0_memory, queries, users, searches)
                mem0_stored += 200
        results["peak_rss_mb"] = round(process_status_kb(service.process.pid, "VmHWM") / 1024, 1)
    return results


def print_tables(results: dict[str, Any], clients: int) -> None:
    ours: dict[str, Any] = results["ours"]
    theirs: dict[str, Any] = results["mem0"]
    print(f"\nLatency over HTTP (ours) and in-process (Mem0 {mem0_peer.MEM0_VERSION}), 10 results")
    header = (
        f"{'memories':>9} | {'who':<5} | {'1 client p50/p95/p99 ms':<24} | "
        f"{f'{clients} clients p50/p95/p99 ms':<24} | {'searches/s':>10} | "
        f"{'add/s':>6} | {'batch add/s':>11} | {'RSS MB':>6} | results"
    )
    print(header)
    print("-" * len(header))
    for size, row in ours.items():
        one, many = row["search_1_client"], row[f"search_{clients}_clients"]
        print(
            f"{size:>9} | {'ours':<5} | {triple(one):<24} | {triple(many):<24} | "
            f"{many['per_s']:>10} | {row['add_single_per_s']:>6} | {row['add_batch_per_s']:>11} | "
            f"{row['rss_mb']:>6} | {row['results_per_search']}"
        )
        if size in theirs:
            peer = theirs[size]
            print(
                f"{size:>9} | {'mem0':<5} | {triple(peer['search_1_client']):<24} | "
                f"{'-':<24} | {'-':>10} | {peer['add_single_per_s']:>6} | {'-':>11} | {'-':>6} | "
                f"{peer['results_per_search']}"
            )
            ratio = one["p50_ms"] / peer["search_1_client"]["p50_ms"]
            adds = row["add_single_per_s"] / peer["add_single_per_s"]
            print(f"{'':>9} | ratio | p50 ours/theirs {ratio:.2f}, add/s ours/theirs {adds:.2f}")
    for size, row in ours.items():
        phases = ", ".join(
            f"{name} {ms}" for name, ms in row["search_1_client_phases_mean_ms"].items()
        )
        print(f"search at {size}, 1 client, mean ms inside the service: {phases}")
    loads = ", ".join(f"{size} in {s} s" for size, s in results["seeding_s"].items())
    mem0_loads = ", ".join(f"{size} in {s} s" for size, s in results["mem0_seeding_s"].items())
    print(f"bulk loads, indexes built after: ours {loads or '-'}; Mem0 {mem0_loads or '-'}")
    print(f"peak RSS of the service: {results['peak_rss_mb']} MB")
    print("results: mean results per search of 10 asked (Mem0 filters its HNSW hits by user)")


def triple(summary: dict[str, float]) -> str:
    return f"{summary['p50_ms']} / {summary['p95_ms']} / {summary['p99_ms']}"


def sizes_argument(text: str) -> list[int]:
    return sorted(int(size) for size in text.split(",") if size)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=sizes_argument, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--mem0-sizes", type=sizes_argument, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--searches", type=int, default=400, help="one client's, per size")
    # Enough for several seconds of load: over 400 (1.5 s) the rate moved 233-271/s run to run.
    parser.add_argument(
        "--concurrent-searches", type=int, default=2400, help="the clients' together, per size"
    )
    parser.add_argument("--clients", type=int, default=8)


def run_from(args: argparse.Namespace) -> dict[str, Any]:
    return run(
        args.sizes,
        args.mem0_sizes,
        args.users,
        args.searches,
        args.clients,
        args.concurrent_searches,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    results = run_from(args)
    print_tables(results, args.clients)
    write_json("scale", {"settings": vars(args) | SETTINGS, "results": results})


if __name__ == "__main__":
    main()
