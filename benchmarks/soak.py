"""Soak: mixed traffic for a while against one `memory-service serve` process, watching its
memory. Prints throughput, latency percentiles, status counts and resident memory over time.

    python -m benchmarks.soak [--seconds 300] [--clients 4]

tests/hardening/test_soak.py runs it for 60 s and asserts zero 5xx and a steady RSS.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from benchmarks.harness import percentile, process_status_kb, report, running_process

WORDS = [
    "coffee",
    "tea",
    "hiking",
    "piano",
    "Lisbon",
    "Berlin",
    "allergy",
    "peanuts",
    "cat",
    "dog",
    "marathon",
    "jazz",
    "chess",
]


@dataclass
class SoakReport:
    seconds: float
    requests: int
    statuses: Counter[int]
    latencies_ms: list[float]
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (elapsed s, MB)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def rss_growth_after_warmup(self, warmup_s: float) -> float:
        """Largest RSS seen after warm-up, relative to the RSS at the end of warm-up."""
        after = [mb for t, mb in self.rss_mb if t >= warmup_s]
        return max(after) / after[0] - 1.0


def rss_mb(pid: int) -> float:
    return process_status_kb(pid, "VmRSS") / 1024


def soak(http: httpx.Client, pid: int, seconds: float, clients: int) -> SoakReport:
    """Each client loops: add (30 %), search (45 %), list (10 %), update (10 %), delete (5 %)."""
    headers = dict(http.headers)
    base_url = str(http.base_url)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client_loop(number: int) -> None:
        rng = random.Random(number)
        own: list[str] = []
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            n = 0
            while time.monotonic() < stop:
                user = f"soak-{number}-{rng.randrange(20)}"
                roll = rng.random()
                started = time.perf_counter()
                if roll < 0.30 or not own:
                    text = f"{user} note {n}: {' '.join(rng.choices(WORDS, k=8))}"
                    body = {"text": text, "user_id": user, "infer": False}
                    response = client.post("/v1/memories", json=body)
                    if response.status_code == 201:
                        own.append(response.json()["results"][0]["memory"]["id"])
                elif roll < 0.75:
                    query = " ".join(rng.choices(WORDS, k=3))
                    response = client.post("/v1/search", json={"query": query, "user_id": user})
                elif roll < 0.85:
                    response = client.get("/v1/memories", params={"user_id": user, "limit": 20})
                elif roll < 0.95:
                    response = client.patch(
                        f"/v1/memories/{rng.choice(own)}", json={"metadata": {"n": n}}
                    )
                else:
                    response = client.delete(f"/v1/memories/{own.pop(rng.randrange(len(own)))}")
                elapsed_ms = (time.perf_counter() - started) * 1000
                with lock:
                    statuses[response.status_code] += 1
                    latencies.append(elapsed_ms)
                n += 1

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    samples = [(0.0, rss_mb(pid))]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        time.sleep(min(5.0, max(0.1, stop - time.monotonic())))
        samples.append((time.monotonic() - began, rss_mb(pid)))
    for thread in threads:
        thread.join()
    return SoakReport(time.monotonic() - began, len(latencies), statuses, latencies, samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    # The per-key rate limit is not what a soak measures.
    with running_process() as service:
        result = soak(service.http, service.process.pid, args.seconds, args.clients)
    warmup_s = min(30.0, args.seconds / 4)
    rows = [
        ("duration (s) / clients", f"{result.seconds:.0f} / {args.clients}"),
        ("requests / throughput (req/s)", f"{result.requests} / {result.throughput:.1f}"),
        (
            "latency p50 / p95 / p99 (ms)",
            " / ".join(f"{percentile(result.latencies_ms, q):.1f}" for q in (0.5, 0.95, 0.99)),
        ),
        ("statuses", ", ".join(f"{s}: {c}" for s, c in sorted(result.statuses.items()))),
        ("5xx", str(result.server_errors)),
        ("RSS start / after warm-up / end (MB)", _rss_row(result, warmup_s)),
        (
            f"RSS growth after {warmup_s:.0f} s warm-up",
            f"{result.rss_growth_after_warmup(warmup_s):+.1%}",
        ),
    ]
    report(rows, {"rows": dict(rows), "rss_mb": result.rss_mb}, "soak")


def _rss_row(result: SoakReport, warmup_s: float) -> str:
    after = next(mb for t, mb in result.rss_mb if t >= warmup_s)
    return f"{result.rss_mb[0][1]:.0f} / {after:.0f} / {result.rss_mb[-1][1]:.0f}"


if __name__ == "__main__":
    main()
