"""What every benchmark shares: a fresh service over HTTP, percentiles, a printed table."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import httpx

# Every benchmark measures the service, not its per-key rate limiter.
SERVICE_SETTINGS = {"MEMORY_RATE_LIMIT_PER_S": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class RunningService(NamedTuple):
    http: httpx.Client  # authenticated with the dev key
    process: subprocess.Popen[bytes]  # e.g. to read its memory use
    data_dir: Path  # holds the embedded Postgres (pgdata/) and the dev key


@contextmanager
def running_service(extra_env: Mapping[str, str] | None = None) -> Iterator[httpx.Client]:
    """`memory-service serve` on a fresh embedded Postgres in a temporary directory, and an
    authenticated client for it; everything is removed afterwards."""
    with running_process(extra_env) as service:
        yield service.http


@contextmanager
def running_process(
    extra_env: Mapping[str, str] | None = None,
    source_dir: Path | None = None,
    api_key: str | None = None,
    copy_of: Path | None = None,
) -> Iterator[RunningService]:
    """Like ``running_service``, with the server's process and data directory.

    ``source_dir``: serve the ``service`` package of another checkout (e.g. a git worktree of
    an older commit) with this interpreter; by default, the one installed here. ``api_key``:
    the key to use (with a DATABASE_URL in ``extra_env``); by default the embedded mode's.
    ``copy_of``: start from a copy of this data directory (of a stopped service) instead of
    an empty one, e.g. a million memories loaded once for several runs."""
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        data_dir = Path(tmp)
        if copy_of is not None:
            copy_data_dir(copy_of, data_dir)
        port = free_port()
        env = {
            **os.environ,
            **SERVICE_SETTINGS,
            **(extra_env or {}),
            "MEMORY_DATA_DIR": str(data_dir),
            "MEMORY_LOG_LEVEL": "warning",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)],
            env=env,
            cwd=source_dir,  # `python -m` imports from the working directory first
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_ready(f"http://127.0.0.1:{port}", process)
            key = api_key or (data_dir / "dev-api-key").read_text().strip()
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            ) as http:
                yield RunningService(http, process, data_dir)
        finally:
            process.terminate()
            process.wait(timeout=60)


def copy_data_dir(source: Path, target: Path) -> None:
    """Copy a data directory with each file's owner: the embedded Postgres runs as its own
    user when started by root, and refuses a data directory it cannot read."""
    shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
    for path in [target, *target.rglob("*")]:
        owner = (source / path.relative_to(target)).lstat()
        os.lchown(path, owner.st_uid, owner.st_gid)


class ServiceDidNotStart(RuntimeError):
    """The service process exited, or did not answer /readyz in time."""


def wait_until_ready(
    base_url: str,
    process: subprocess.Popen[bytes],
    timeout_s: float = 120,
    output: Callable[[], str] = str,
) -> None:
    """Poll ``/readyz`` until it answers 200; ``output`` gives what the process wrote, shown
    (its end) when it exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceDidNotStart(
                f"the service exited with code {process.returncode}:\n{output()[-3000:]}"
            )
        try:
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise ServiceDidNotStart(
        f"the service did not become ready within {timeout_s:g} s:\n{output()[-3000:]}"
    )


def process_status_kb(pid: int, field: str) -> int:
    """A kB figure of /proc/<pid>/status, e.g. VmRSS (resident now) or VmHWM (its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def report(rows: list[tuple[str, str]], results: dict[str, Any], name: str) -> None:
    """Print a two-column table and write the figures to .bench/<name>.json."""
    width = max(len(label) for label, _ in rows)
    print(f"{'measure':<{width}} | value")
    print(f"{'-' * width}-|-------")
    for label, value in rows:
        print(f"{label:<{width}} | {value}")
    write_json(name, results)


def write_json(name: str, results: dict[str, Any]) -> Path:
    """Write ``results`` to .bench/<name>.json (git-ignored) and return the path."""
    output = Path(".bench") / f"{name}.json"
    output.parent.mkdir(exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    return output
