"""Load a service data directory once with the scale benchmark's memories, for runs that start
on copies of it (python -m benchmarks.compare_revisions --copy-of DIR).

The first --pool memories go in through the batch API (1000 users), the rest by COPY with the
HNSW index rebuilt after (benchmarks/scale.py). The service is then stopped, and what the
revision that loaded it wrote for its own embedded server's start (memory-service.conf) is
removed, so that every revision started on a copy configures the server as it would.

    python -m benchmarks.seed_data_dir DIR [--size 1000000] [--pool 10000] [--users 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchmarks.harness import SERVICE_SETTINGS, free_port, wait_until_ready
from benchmarks.scale import copy_memories, read_pool, seed_through_api
from service.adapters.embedded_postgres import TUNING_FILE, start_embedded_postgres


def seed(data_dir: Path, size: int, pool_size: int, users: int) -> float:
    """Fill ``data_dir``; the seconds it took."""
    started = time.perf_counter()
    port = free_port()
    env = {**os.environ, **SERVICE_SETTINGS, "MEMORY_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "service", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", process)
        key = (data_dir / "dev-api-key").read_text().strip()
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            http.timeout = httpx.Timeout(60)
            seed_through_api(http, pool_size, users)
        dsn = start_embedded_postgres(data_dir / "pgdata")
        pool = asyncio.run(read_pool(dsn))
        asyncio.run(copy_memories(dsn, pool, pool_size, size, users))
    finally:
        process.terminate()
        process.wait(timeout=120)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="an empty or missing directory")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=10_000, help="memories added through the API")
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    if any(args.data_dir.iterdir()):
        raise SystemExit(f"{args.data_dir} is not empty")
    seconds = seed(args.data_dir, args.size, args.pool, args.users)
    # This process joined the server too: it stops it as it exits (embedded_postgres' atexit).
    (args.data_dir / "pgdata" / TUNING_FILE).unlink(missing_ok=True)
    print(f"{args.size} memories in {args.data_dir} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
