"""One fuzzing run: start the service, send the budget, stop it, read what it wrote."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks.fuzz.generate import CHUNK, generate, seed_data
from benchmarks.fuzz.openapi_run import fuzz_openapi
from benchmarks.fuzz.report import scan, summary
from benchmarks.fuzz.target import copy_outputs, running_target, stop
from benchmarks.fuzz.wire import Planned, Recorder, Sender

# Of the budget; the rest is our own strategies, half in each dialect. schemathesis draws about
# 15 cases a second (its own generation is its cost), our strategies about 200.
OPENAPI_SHARE = 0.1


def chunks(
    pool: ProcessPoolExecutor, keys: dict[str, str], count: int, seed: int
) -> Iterator[list[Planned]]:
    """``count`` generated requests, a chunk at a time, drawn two chunks ahead."""
    sizes = [CHUNK] * (count // CHUNK) + ([count % CHUNK] if count % CHUNK else [])
    pending: deque[Future[list[Planned]]] = deque()
    for number, size in enumerate(sizes):
        pending.append(pool.submit(generate, keys, size, seed * 100_003 + number))
        if len(pending) > 2:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def run(
    requests: int, connections: int = 4, seed: int = 0, keep_logs: Path | None = None
) -> tuple[dict[str, Any], Recorder]:
    """Fuzz a fresh service with ``requests`` requests; the figures and what was sent."""
    spawn = get_context("spawn")  # the worker processes share nothing with our threads
    with (
        running_target() as target,
        ProcessPoolExecutor(2, mp_context=spawn) as pool,
    ):
        recorder = Recorder(dict(target.keys))
        sender = Sender(target.base_url, recorder, connections, seed)
        started = time.perf_counter()
        sender.send_chunks([seed_data()])
        openapi_budget = int(requests * OPENAPI_SHARE)
        # schemathesis in one process, our strategies drawn in the other, sent from here
        openapi = pool.submit(fuzz_openapi, target.base_url, target.keys, openapi_budget, seed)
        custom = max(0, requests - openapi_budget - recorder.total)
        sender.send_chunks(chunks(pool, target.keys, custom, seed))
        recorder.merge(openapi.result())
        shortfall = requests - recorder.total
        if shortfall > 0:  # schemathesis ran out of distinct cases for some operations
            sender.send_chunks(chunks(pool, target.keys, shortfall, seed + 1))
        seconds = time.perf_counter() - started
        alive = target.alive
        stop(target.process)  # so that its last words are read too
        secrets = {key: "api key" for key in target.keys.values()}
        secrets[target.llm_api_key] = "LLM key"
        logs = scan(target.outputs, secrets)
        if keep_logs is not None:
            copy_outputs(target, keep_logs)
        return summary(recorder, logs, seconds, alive), recorder
