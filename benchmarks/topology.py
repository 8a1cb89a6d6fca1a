"""Search through the ways a deployment reaches Postgres, side by side in one run.

Three services serve the same data at once: one connected to the primary directly, one through
PgBouncer in transaction mode (no prepared statements, as PgBouncer 1.18 needs), and one
reading from a streaming replica (``DATABASE_READ_URL``). Every query goes to each of them in
rotating order (one client), then each serves rounds of concurrent searches in turn. All of it
shares this machine's cores, so the replica adds no CPU here: the figures show what each path
costs, not the capacity a replica on its own machine adds.

    python -m benchmarks.topology [--size 100000] [--searches 600]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import uuid
from contextlib import ExitStack
from typing import Any

from benchmarks.compare_revisions import alternate_searches, concurrent_rounds, empty_memories
from benchmarks.harness import SERVICE_SETTINGS, RunningService, running_process, write_json
from benchmarks.scale import copy_memories, read_pool, seed_through_api
from tests.pgbouncer import start_pgbouncer
from tests.postgres_tcp import start_streaming_replica, start_tcp_postgres

TOPOLOGIES = ("direct", "pgbouncer", "replica")


def cli(dsn: str, *arguments: str) -> str:
    """`memory-service ARGUMENTS` against ``dsn``; what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "service", *arguments],
        env={**os.environ, "DATABASE_URL": dsn},
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def serve(stack: ExitStack, key: str, env: dict[str, str]) -> RunningService:
    return stack.enter_context(running_process({**SERVICE_SETTINGS, **env}, api_key=key))


def run(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        primary = start_tcp_postgres(f"pw-{uuid.uuid4().hex}")
        stack.callback(primary.remove)
        cli(primary.dsn, "migrate")
        created = cli(primary.dsn, "keys", "create", "--tenant", "bench")
        key = created.split("api key:")[1].split()[0]
        direct = serve(stack, key, {"DATABASE_URL": primary.dsn})
        seed_through_api(direct.http, args.pool, args.users)
        pool = asyncio.run(read_pool(primary.dsn))
        asyncio.run(empty_memories(primary.dsn))
        asyncio.run(copy_memories(primary.dsn, pool, 0, args.size, args.users))
        replica = start_streaming_replica(primary)
        stack.callback(replica.remove)
        bouncer = start_pgbouncer(primary, pool_size=10)
        stack.callback(bouncer.stop)
        services = [
            direct,
            serve(stack, key, {"DATABASE_URL": bouncer.dsn, "MEMORY_DB_STATEMENT_CACHE_SIZE": "0"}),
            serve(stack, key, {"DATABASE_URL": primary.dsn, "DATABASE_READ_URL": replica.dsn}),
        ]
        results = alternate_searches(services, args.searches, args.users)
        rates = concurrent_rounds(
            services, args.rounds, args.concurrent_searches, args.clients, args.users
        )
        for result, per_s in zip(results, rates, strict=True):
            result["searches_per_s"] = per_s
        served = services[2].http.get("/metrics").text
        results[2]["replica_reads"] = [
            line for line in served.splitlines() if line.startswith("memory_db_reads_total{")
        ]
    return dict(zip(TOPOLOGIES, results, strict=True))


def print_table(results: dict[str, Any], clients: int) -> None:
    print(
        f"\n{'topology':<10} | 1 client p50 / p95 ms | embedding / database ms "
        f"| {clients} clients searches/s (each round)"
    )
    for name, result in results.items():
        latency = result["search_1_client"]
        phases = result["phases_mean_ms"]
        rates = " / ".join(str(rate) for rate in result["searches_per_s"])
        print(
            f"{name:<10} | {latency['p50_ms']:>7} / {latency['p95_ms']:>7}     | "
            f"{phases.get('embedding', 0):>9} / {phases.get('database', 0):<8}   | {rates}"
        )
    print("\nreads of the replica service:", *results["replica"]["replica_reads"], sep="\n  ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="memories in the table")
    parser.add_argument("--pool", type=int, default=2_000, help="memories embedded for real")
    parser.add_argument("--users", type=int, default=1000, help="as python -m benchmarks.scale")
    parser.add_argument("--searches", type=int, default=600, help="per topology, one client")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="concurrent rounds per topology")
    parser.add_argument("--concurrent-searches", type=int, default=800, help="per round")
    args = parser.parse_args()
    results = run(args)
    print_table(results, args.clients)
    write_json("topology", results)


if __name__ == "__main__":
    main()
