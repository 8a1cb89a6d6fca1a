"""Search latency of two commits side by side, on identical data, in one run.

A refactoring should not change speed, but on a shared 2-core machine two benchmark runs
minutes apart differ by more than a regression worth catching. So both commits serve at once,
each from its own git worktree with its own embedded Postgres holding the same rows, and every
query text is sent to both, in alternating order: drift of the machine hits both alike.

The rows are those of the scale benchmark (python -m benchmarks.scale): a pool of memories
added through the first service's API gives real embeddings; both tables are then filled with
the same COPYed rows drawn from it.

    python -m benchmarks.compare_revisions 7e31b65 HEAD [--size 100000] [--searches 600]

At a million memories the load takes minutes per revision: `python -m benchmarks.seed_data_dir
DIR --size 1000000` loads one data directory once, and `--copy-of DIR` starts each revision on
a copy of it (each revision migrates its copy to its own schema as it starts). Last, each
revision takes 200 single adds and 20 batches of 100.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks.harness import SERVICE_SETTINGS, RunningService, running_process, write_json
from benchmarks.scale import copy_memories, read_pool, seed_through_api
from benchmarks.scale_measure import (
    QueryTexts,
    concurrent_searches,
    latency_summary,
    measure_adds,
    phase_means_ms,
    search_body,
    search_phase_totals,
)
from service.adapters.embedded_postgres import start_embedded_postgres

WARM_UP_SEARCHES = 30


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """A detached checkout of ``revision`` in a temporary directory, removed afterwards."""
    git = shutil.which("git")
    if git is None:
        raise SystemExit("git is needed to check out the revisions")
    with tempfile.TemporaryDirectory(prefix="memory-compare-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(
            [git, "worktree", "add", "--detach", str(path), revision],
            check=True,
            capture_output=True,
        )
        try:
            yield path
        finally:
            subprocess.run([git, "worktree", "remove", "--force", str(path)], check=False)


async def empty_memories(dsn: str) -> None:
    """Remove the pool's rows, so that both tables hold exactly the same COPYed rows."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("TRUNCATE memories CASCADE")
    finally:
        await connection.close()


def fill(services: list[RunningService], size: int, pool_size: int, users: int) -> None:
    dsns = [start_embedded_postgres(service.data_dir / "pgdata") for service in services]
    seed_through_api(services[0].http, pool_size, users)
    pool = asyncio.run(read_pool(dsns[0]))
    asyncio.run(empty_memories(dsns[0]))
    for dsn in dsns:
        asyncio.run(copy_memories(dsn, pool, 0, size, users))


async def warm(dsn: str) -> None:
    """Read the memories and their indexes through Postgres' buffers, as a server that has
    been running holds them (in its buffers, or the kernel's cache behind them): a copied
    data directory starts cold, and its first reads would measure the disk."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        await connection.execute(
            "SELECT pg_prewarm(oid) FROM pg_class "
            "WHERE relname LIKE 'memories%' AND relkind IN ('r', 'i')"
        )
    finally:
        await connection.close()


def alternate_searches(
    services: list[RunningService], searches: int, users: int
) -> list[dict[str, Any]]:
    """One client; each query goes to every service, the first one to receive it alternating."""
    queries = QueryTexts()
    rng = random.Random(5)
    for _ in range(WARM_UP_SEARCHES):
        for service in services:
            service.http.post("/v1/search", json=search_body(queries.take(), rng, users))
    latencies: list[list[float]] = [[] for _ in services]
    phases_before = [search_phase_totals(service.http) for service in services]
    cpu_before = [cpu_seconds(service) for service in services]
    for number in range(searches):
        body = search_body(queries.take(), rng, users)
        order = list(range(len(services)))
        if number % 2:
            order.reverse()
        for index in order:
            started = time.perf_counter()
            services[index].http.post("/v1/search", json=body).raise_for_status()
            latencies[index].append((time.perf_counter() - started) * 1000)
    phases_after = [search_phase_totals(service.http) for service in services]
    cpu_after = [cpu_seconds(service) for service in services]
    return [
        {
            "search_1_client": latency_summary(mine),
            "phases_mean_ms": phase_means_ms(before, after),
            "cpu_ms_per_search": {
                side: round((after_s - before_s) / searches * 1000, 2)
                for side, before_s, after_s in zip(("service", "postgres"), *cpu, strict=True)
            },
        }
        for mine, before, after, *cpu in zip(
            latencies, phases_before, phases_after, cpu_before, cpu_after, strict=True
        )
    ]


def cpu_seconds(service: RunningService) -> tuple[float, float]:
    """CPU time used so far by the service's process and by its Postgres (the postmaster and
    its children; 0 for a DATABASE_URL server, which may be shared). Unlike latency, it does
    not grow while other processes hold the CPU."""
    pid_file = service.data_dir / "pgdata" / "postmaster.pid"
    postmaster = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
    postgres = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat") if postmaster else ():
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process has just exited
            continue
        if int(stat.parent.name) == postmaster or int(fields[1]) == postmaster:
            postgres += _ticks(fields)
    service_fields = Path(f"/proc/{service.process.pid}/stat").read_text().rsplit(")", 1)[1]
    return _ticks(service_fields.split()), postgres


def _ticks(fields: list[str]) -> float:
    # utime and stime, the 14th and 15th fields of /proc/PID/stat (here after the name).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def concurrent_rounds(
    services: list[RunningService], rounds: int, total: int, clients: int, users: int
) -> list[list[float]]:
    """Searches per second under ``clients`` clients, each service in turn, ``rounds`` times."""
    queries = QueryTexts()
    rates: list[list[float]] = [[] for _ in services]
    for _ in range(rounds):
        for index, service in enumerate(services):
            _, per_s = concurrent_searches(service, queries, users, total, clients)
            rates[index].append(per_s)
    return rates


def print_table(revisions: list[str], results: list[dict[str, Any]], clients: int) -> None:
    print(
        f"\n{'revision':<12} | 1 client p50/p95/p99 ms | embedding / database ms "
        f"| CPU ms service / Postgres | adds/s single / batch "
        f"| {clients} clients searches/s (each round)"
    )
    for revision, result in zip(revisions, results, strict=True):
        latency = result["search_1_client"]
        phases = result["phases_mean_ms"]
        cpu = result["cpu_ms_per_search"]
        rates = " / ".join(str(rate) for rate in result["searches_per_s"])
        print(
            f"{revision:<12} | {latency['p50_ms']:>6} / {latency['p95_ms']:>6} / "
            f"{latency['p99_ms']:>6}  | {phases.get('embedding', 0):>9} / "
            f"{phases.get('database', 0):<8}   | {cpu['service']:>7} / {cpu['postgres']:<8}     "
            f"| {result['add_single_per_s']:>6} / "
            f"{result['add_batch_per_s']:<6}      | {rates}"
        )


def main() -> None:
    args = arguments().parse_args()
    with ExitStack() as stack:
        services = [
            stack.enter_context(
                running_process(
                    SERVICE_SETTINGS,
                    stack.enter_context(worktree(revision)),
                    copy_of=args.copy_of,
                )
            )
            for revision in args.revisions
        ]
        if args.copy_of is None:
            fill(services, args.size, args.pool, args.users)
        else:
            for service in services:
                asyncio.run(warm(start_embedded_postgres(service.data_dir / "pgdata")))
        results = alternate_searches(services, args.searches, args.users)
        rates = concurrent_rounds(
            services, args.rounds, args.concurrent_searches, args.clients, args.users
        )
        adds = [measure_adds(service.http, args.users) for service in services]
    for result, per_s, (single, batch) in zip(results, rates, adds, strict=True):
        result |= {"searches_per_s": per_s, "add_single_per_s": single, "add_batch_per_s": batch}
    print_table(args.revisions, results, args.clients)
    write_json("compare_revisions", dict(zip(args.revisions, results, strict=True)))


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs=2, help="two git revisions, e.g. 7e31b65 HEAD")
    parser.add_argument("--size", type=int, default=100_000, help="memories in each table")
    parser.add_argument("--pool", type=int, default=10_000, help="memories embedded for real")
    parser.add_argument("--users", type=int, default=1000, help="as python -m benchmarks.scale")
    parser.add_argument("--searches", type=int, default=600, help="per revision, one client")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="concurrent rounds per revision")
    parser.add_argument("--concurrent-searches", type=int, default=800, help="per round")
    parser.add_argument(
        "--copy-of",
        type=Path,
        help="a stopped service's data directory (python -m benchmarks.seed_data_dir): each "
        "revision starts on a copy of it instead of loading --size memories",
    )
    return parser


if __name__ == "__main__":
    main()
