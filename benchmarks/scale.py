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
vectors through its own vector store) and is searched and added to in-process.

    python -m benchmarks.scale [--sizes 10000,100000,1000000] [--mem0-sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import threading
import time
import uuid
from typing import Any

import asyncpg
import httpx
import numpy as np
import numpy.typing as npt
from pgvector.asyncpg import register_vector
from prometheus_client.parser import text_string_to_metric_families

from benchmarks import mem0_peer
from benchmarks.harness import (
    SERVICE_SETTINGS,
    RunningService,
    percentile,
    process_status_kb,
    running_process,
    write_json,
)
from benchmarks.synthetic import question, sentence
from service.adapters.embedded_postgres import start_embedded_postgres
from service.domain.memories import content_hash

SETTINGS = SERVICE_SETTINGS
API_BATCH = 100
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


def user_of(n: int, users: int) -> str:
    return f"user-{n % users}"


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


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies_ms, 0.50), 2),
        "p95_ms": round(percentile(latencies_ms, 0.95), 2),
        "p99_ms": round(percentile(latencies_ms, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies_ms), 2),
    }


class QueryTexts:
    """Distinct questions across the whole run, so that no query is ever repeated."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()
        self._rng = random.Random(11)

    def take(self) -> str:
        with self._lock:
            self._next += 1
            return question(self._rng, self._next)


def search_phase_totals(http: httpx.Client) -> dict[str, tuple[float, float]]:
    """Seconds and count of each search phase so far, from the service's /metrics."""
    totals: dict[str, tuple[float, float]] = {}
    for family in text_string_to_metric_families(http.get("/metrics").text):
        if family.name != "memory_search_phase_duration_seconds":
            continue
        for sample in family.samples:
            phase = sample.labels["phase"]
            seconds, count = totals.get(phase, (0.0, 0.0))
            if sample.name.endswith("_sum"):
                totals[phase] = (sample.value, count)
            elif sample.name.endswith("_count"):
                totals[phase] = (seconds, sample.value)
    return totals


def phase_means_ms(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float]:
    means = {}
    for phase, (seconds, count) in after.items():
        earlier_seconds, earlier_count = before.get(phase, (0.0, 0.0))
        if count > earlier_count:
            means[phase] = round((seconds - earlier_seconds) / (count - earlier_count) * 1000, 2)
    return means


def search_body(text: str, rng: random.Random, users: int) -> dict[str, Any]:
    return {"query": text, "user_id": user_of(rng.randrange(users), users), "limit": 10}


def measure_ours(
    service: RunningService,
    queries: QueryTexts,
    users: int,
    searches: int,
    clients: int,
    concurrent_total: int,
) -> dict[str, Any]:
    http = service.http
    rng = random.Random(searches)
    for _ in range(20):  # warm-up: connections, plans, caches
        http.post("/v1/search", json=search_body(queries.take(), rng, users))
    single: list[float] = []
    returned = 0
    phases_before = search_phase_totals(http)
    for _ in range(searches):
        body = search_body(queries.take(), rng, users)
        started = time.perf_counter()
        response = http.post("/v1/search", json=body)
        single.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        returned += len(response.json()["results"])
    phases = phase_means_ms(phases_before, search_phase_totals(http))
    concurrent, throughput = concurrent_searches(service, queries, users, concurrent_total, clients)
    single_adds, batch_adds = measure_adds(http, users)
    return {
        "search_1_client": latency_summary(single),
        "search_1_client_phases_mean_ms": phases,
        "results_per_search": round(returned / searches, 2),
        f"search_{clients}_clients": {**latency_summary(concurrent), "per_s": throughput},
        "add_single_per_s": single_adds,
        "add_batch_per_s": batch_adds,
        "rss_mb": round(process_status_kb(service.process.pid, "VmRSS") / 1024, 1),
    }


def concurrent_searches(
    service: RunningService, queries: QueryTexts, users: int, total: int, clients: int
) -> tuple[list[float], float]:
    """``clients`` threads, each with its own connection, share ``total`` searches."""
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        rng = random.Random(1000 + number)
        mine: list[float] = []
        headers = dict(service.http.headers)
        with httpx.Client(base_url=service.http.base_url, headers=headers, timeout=60) as http:
            http.get("/healthz")  # connect before the clock starts
            start.wait()
            for _ in range(total // clients):
                body = search_body(queries.take(), rng, users)
                started = time.perf_counter()
                http.post("/v1/search", json=body).raise_for_status()
                mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, round(len(latencies) / (time.perf_counter() - started), 1)


def measure_adds(http: httpx.Client, users: int) -> tuple[float, float]:
    """(single adds/s over 200 requests, batch adds/s over 20 batches of 100)."""
    rng = random.Random(13)
    tag = uuid.uuid4().hex[:8]  # fresh texts at every size: a repeat would be deduplicated
    started = time.perf_counter()
    for n in range(200):
        body = {"text": f"{sentence(rng, n)} {tag}", "user_id": user_of(n, users), "infer": False}
        http.post("/v1/memories", json=body).raise_for_status()
    single = 200 / (time.perf_counter() - started)
    started = time.perf_counter()
    for first in range(0, 2000, API_BATCH):
        items = [
            {"text": f"{sentence(rng, n)} {tag}", "user_id": user_of(n, users)}
            for n in range(first, first + API_BATCH)
        ]
        http.post("/v1/memories/batch", json={"items": items}).raise_for_status()
    batch = 2000 / (time.perf_counter() - started)
    return round(single, 1), round(batch, 1)


def measure_mem0(memory: Any, queries: QueryTexts, users: int, searches: int) -> dict[str, Any]:
    rng = random.Random(17)
    for _ in range(20):
        mem0_peer.search(memory, queries.take(), user_of(rng.randrange(users), users), 10)
    single: list[float] = []
    returned = 0
    for _ in range(searches):
        text, user = queries.take(), user_of(rng.randrange(users), users)
        started = time.perf_counter()
        found = mem0_peer.search(memory, text, user, 10)
        single.append((time.perf_counter() - started) * 1000)
        returned += len(found)
    tag = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    for n in range(200):
        mem0_peer.add(memory, f"{sentence(rng, n)} {tag}", user_of(n, users))
    return {
        "search_1_client": latency_summary(single),
        "results_per_search": round(returned / searches, 2),
        "add_single_per_s": round(200 / (time.perf_counter() - started), 1),
    }


def run(
    sizes: list[int],
    mem0_sizes: list[int],
    users: int,
    searches: int,
    clients: int,
    concurrent_searches_total: int,
) -> dict[str, Any]:
    results: dict[str, Any] = {"ours": {}, "mem0": {}, "seeding_s": {}}
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
                grow = np.random.default_rng(size)
                while mem0_stored < size:
                    count = min(5000, size - mem0_stored)
                    texts, vectors = pool.draw(grow, mem0_stored, count)
                    owners = [user_of(mem0_stored + i, users) for i in range(count)]
                    mem0_peer.bulk_insert(mem0_memory, texts, owners, vectors)
                    mem0_stored += count
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
    print(f"peak RSS of the service: {results['peak_rss_mb']} MB")
    print("results: mean results per search of 10 asked (Mem0 filters its HNSW hits by user)")


def triple(summary: dict[str, float]) -> str:
    return f"{summary['p50_ms']} / {summary['p95_ms']} / {summary['p99_ms']}"


def sizes_argument(text: str) -> list[int]:
    return sorted(int(size) for size in text.split(",") if size)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=sizes_argument, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--mem0-sizes", type=sizes_argument, default=[10_000, 100_000])
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
