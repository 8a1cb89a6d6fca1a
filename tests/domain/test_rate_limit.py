"""The per-key token bucket, on a clock the test moves."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.rate_limit import RateLimiter
from service.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


rates = st.sampled_from([0.5, 1.0, 2.0, 10.0])
bursts = st.integers(1, 5)
# Each step: seconds to wait (a multiple of 1/8, so the arithmetic is exact), then one request.
steps = st.lists(st.integers(0, 24).map(lambda k: k / 8), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(per_second=rates, burst=bursts, waits=steps)
def test_no_window_accepts_more_than_a_burst_and_the_rate_of_its_length(
    per_second: float, burst: int, waits: list[float]
) -> None:
    clock = Clock()
    limiter = RateLimiter(per_second, burst, clock)
    accepted: list[float] = []
    for wait in waits:
        clock.now += wait
        try:
            limiter.take(b"key")
        except RateLimited:
            continue
        accepted.append(clock.now)

    for first, start in enumerate(accepted):
        for last in range(first, len(accepted)):
            assert last - first + 1 <= burst + per_second * (accepted[last] - start)


@settings(max_examples=200, deadline=None)
@given(per_second=rates, burst=bursts, waits=steps)
def test_a_refused_request_succeeds_once_it_waited_as_told(
    per_second: float, burst: int, waits: list[float]
) -> None:
    clock = Clock()
    limiter = RateLimiter(per_second, burst, clock)
    for wait in waits:
        clock.now += wait
        try:
            limiter.take(b"key")
        except RateLimited as refused:
            assert refused.retry_after_s >= 1
            assert f"retry in {refused.retry_after_s} s" in refused.detail
            clock.now += refused.retry_after_s
            limiter.take(b"key")


def test_a_rested_key_gets_its_burst_at_once_and_keys_do_not_share_it() -> None:
    clock = Clock()
    limiter = RateLimiter(0.5, 3, clock)
    for _ in range(3):
        limiter.take(b"alice")

    with pytest.raises(RateLimited) as refused:
        limiter.take(b"alice")

    assert refused.value.retry_after_s == 2  # one token per 2 s
    limiter.take(b"bob")
    clock.now += 2
    limiter.take(b"alice")


def test_a_rate_of_zero_turns_the_limit_off() -> None:
    limiter = RateLimiter(0, 1, Clock())

    assert not limiter.enabled
    for _ in range(100):
        limiter.take(b"key")
