"""Requests per API key: a token bucket in this process.

Per replica on purpose: checking costs no database round trip and no shared row that every
request of a busy key would contend on. The price is that the limit a key gets overall is
the per-replica rate times the number of replicas, which is how it is documented.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.errors import RateLimited

MAX_TRACKED_KEYS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_at: float


class RateLimiter:
    def __init__(
        self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._per_second = per_second
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[bytes, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self._per_second > 0

    def take(self, bucket_id: bytes) -> None:
        """Spend one token of ``bucket_id``, or raise RateLimited saying when to retry."""
        if not self.enabled:
            return
        now = self._clock()
        bucket = self._buckets.get(bucket_id)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_KEYS:
                self._forget_full_buckets(now)
            bucket = self._buckets[bucket_id] = _Bucket(self._burst, now)
        bucket.tokens = min(
            self._burst, bucket.tokens + (now - bucket.updated_at) * self._per_second
        )
        bucket.updated_at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        # Whole seconds, as Retry-After carries them; the detail says the same number.
        retry_after_s = max(1, math.ceil((1.0 - bucket.tokens) / self._per_second))
        raise RateLimited(
            f"too many requests for this API key (limit {self._per_second:g}/s, bursts of "
            f"{self._burst:g}); retry in {retry_after_s} s (Retry-After)",
            retry_after_s=retry_after_s,
        )

    def _forget_full_buckets(self, now: float) -> None:
        """Buckets that have refilled hold no information; dropping them bounds memory."""
        refill_s = self._burst / self._per_second
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if now - bucket.updated_at < refill_s
        }
