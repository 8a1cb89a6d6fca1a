"""Core API benchmark: search latency and add throughput over HTTP at 10k stored memories.

Starts `memory-service serve` on a fresh embedded Postgres in a temporary directory, seeds
it through the batch API, then measures from one client over loopback. Prints a table and
writes the figures (and the settings they ran with) to .bench/core_api.json.

    python -m benchmarks.core_api [--memories 10000] [--searches 500]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from typing import Any

import httpx

from benchmarks.harness import percentile, report, running_service

NAMES = ["Alice", "Bob", "Carla", "Dmitri", "Emeka", "Fatima", "Goro", "Hana", "Ivan", "Jun"]
VERBS = ["likes", "avoids", "collects", "talks about", "dreams of", "bought", "lost", "fixed"]
THINGS = [
    "old bicycles",
    "green tea",
    "jazz records",
    "mountain hikes",
    "spicy food",
    "board games",
    "vintage cameras",
    "sourdough bread",
    "marathon training",
    "chess openings",
    "sea kayaks",
    "watercolour paints",
    "science fiction novels",
    "house plants",
    "electric guitars",
]
PLACES = ["Berlin", "Lisbon", "Osaka", "Nairobi", "Lima", "Oslo", "Austin", "Hanoi", "Porto"]
WHEN = ["last spring", "every weekend", "since childhood", "this year", "on holidays"]


def sentence(rng: random.Random, index: int) -> str:
    return (
        f"{rng.choice(NAMES)} {rng.choice(VERBS)} {rng.choice(THINGS)} in "
        f"{rng.choice(PLACES)} {rng.choice(WHEN)} (note {index})"
    )


def question(rng: random.Random, index: int) -> str:
    return f"What does {rng.choice(NAMES)} think about {rng.choice(THINGS)}? ({index})"


def run(memories: int, searches: int, users: int) -> dict[str, Any]:
    with running_service() as http:
        return measure(http, random.Random(42), memories, searches, users)


def measure(
    http: httpx.Client, rng: random.Random, memories: int, searches: int, users: int
) -> dict[str, Any]:
    batch_size = 100
    started = time.perf_counter()
    for first in range(0, memories, batch_size):
        items = [
            {"text": sentence(rng, n), "user_id": f"user-{n % users}"}
            for n in range(first, min(first + batch_size, memories))
        ]
        response = http.post("/v1/memories/batch", json={"items": items})
        response.raise_for_status()
    batch_rate = memories / (time.perf_counter() - started)

    single_adds = 200
    started = time.perf_counter()
    for n in range(single_adds):
        body = {"text": sentence(rng, memories + n), "user_id": f"user-{n % users}", "infer": False}
        http.post("/v1/memories", json=body).raise_for_status()
    single_rate = single_adds / (time.perf_counter() - started)

    for n in range(20):  # warm-up: connections, plans, caches
        http.post("/v1/search", json={"query": question(rng, -n), "user_id": "user-0"})
    latencies_ms = []
    for n in range(searches):
        body = {"query": question(rng, n), "user_id": f"user-{rng.randrange(users)}", "limit": 10}
        started = time.perf_counter()
        http.post("/v1/search", json=body).raise_for_status()
        latencies_ms.append((time.perf_counter() - started) * 1000)
    return {
        "stored_memories": memories + single_adds,
        "users": users,
        "search_p50_ms": round(percentile(latencies_ms, 0.50), 2),
        "search_p95_ms": round(percentile(latencies_ms, 0.95), 2),
        "search_p99_ms": round(percentile(latencies_ms, 0.99), 2),
        "search_mean_ms": round(statistics.fmean(latencies_ms), 2),
        "searches": searches,
        "add_single_per_s": round(single_rate, 1),
        "add_batch_per_s": round(batch_rate, 1),
        "batch_size": batch_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=500)
    parser.add_argument("--users", type=int, default=100)
    args = parser.parse_args()
    results = run(args.memories, args.searches, args.users)
    results["machine"] = f"{os.cpu_count()} cores, {sys.platform}"
    rows = [
        ("stored memories / users", f"{results['stored_memories']} / {results['users']}"),
        (
            "search p50 / p95 / p99 (ms), 1 client",
            f"{results['search_p50_ms']} / {results['search_p95_ms']} / {results['search_p99_ms']}",
        ),
        ("add, single requests (memories/s)", f"{results['add_single_per_s']}"),
        (f"add, batches of {results['batch_size']} (memories/s)", f"{results['add_batch_per_s']}"),
    ]
    report(rows, results, "core_api")


if __name__ == "__main__":
    main()
