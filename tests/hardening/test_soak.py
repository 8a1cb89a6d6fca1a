"""A bounded soak on loopback: a minute of mixed traffic against a `memory-service serve`
process; zero 5xx and a steady resident memory. (`python -m benchmarks.soak` runs longer.)"""

from __future__ import annotations

from benchmarks.harness import percentile, running_process
from benchmarks.soak import soak


def test_a_minute_of_mixed_traffic_has_no_server_error_and_a_steady_rss() -> None:
    with running_process({"MEMORY_RATE_LIMIT_PER_S": "0"}) as service:
        result = soak(service.http, service.process.pid, seconds=60, clients=4)

    print(
        f"soak: {result.requests} requests in {result.seconds:.0f} s "
        f"({result.throughput:.1f}/s), p99 {percentile(result.latencies_ms, 0.99):.1f} ms, "
        f"RSS {result.rss_mb[0][1]:.0f} -> {result.rss_mb[-1][1]:.0f} MB"
    )
    assert result.requests > 500
    assert result.server_errors == 0, result.statuses
    assert set(result.statuses) <= {200, 201, 204}, result.statuses
    # After warm-up (model, pools, caches) the process must not keep growing.
    assert result.rss_growth_after_warmup(20.0) < 0.10, result.rss_mb
