"""What the scale benchmark measures at each size: search latency from one client and from
several at once (with the service's own per-phase means from /metrics), add throughput, resident
memory, and the same searches and adds on Mem0 in-process. Every query text is distinct.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from benchmarks import mem0_peer
from benchmarks.harness import RunningService, percentile, process_status_kb
from benchmarks.synthetic import question, sentence

API_BATCH = 100


def user_of(n: int, users: int) -> str:
    return f"user-{n % users}"


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
