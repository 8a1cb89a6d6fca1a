"""A circuit breaker in front of the LLM: an endpoint that keeps failing is left alone.

Each add with inference would otherwise wait out every timeout and retry of a dead endpoint,
and its job would burn its attempts. After ``failures_to_open`` failed calls in a row the
breaker opens: adds defer at once (their jobs wait) and workers stop taking jobs. After
``cooldown_s`` one call is let through as a probe; its success closes the breaker, its failure
opens it for another cool-down. The state is per process: each replica finds out for itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

from service import metrics
from service.domain.ports import ChatLlm, FailureKind, JsonSchema, LlmFailure, LlmUsage

T = TypeVar("T")

# Failures that say the endpoint is down or refuses us; a bad answer means it is up.
ENDPOINT_FAILURES: frozenset[FailureKind] = frozenset(
    {"timeout", "rate_limited", "server_error", "refused"}
)

BreakerState = Literal["closed", "open", "probing"]


class CircuitBreaker:
    def __init__(
        self,
        failures_to_open: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures_to_open = failures_to_open
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        return "probing" if self._probing else "open"

    def wait_s(self) -> float:
        """Seconds until a call may be made (0: now)."""
        if self._opened_at is None:
            return 0.0
        if self._probing:
            return self._cooldown_s  # the probe decides; at worst another cool-down
        return max(0.0, self._opened_at + self._cooldown_s - self._clock())

    def try_call(self) -> bool:
        """Whether a call may go out now; after the cool-down, the first caller probes."""
        if self._opened_at is None:
            return True
        if self._probing or self.wait_s() > 0:
            return False
        self._probing = True
        return True

    def record(self, *, endpoint_failed: bool) -> None:
        self._probing = False
        if not endpoint_failed:
            self._failures = 0
            self._opened_at = None
        else:
            self._failures += 1
            if self._opened_at is not None or self._failures >= self._failures_to_open:
                self._opened_at = self._clock()
        metrics.LLM_CIRCUIT_OPEN.set(0 if self._opened_at is None else 1)


class GuardedLlm:
    """A ``ChatLlm`` whose calls go through a circuit breaker."""

    def __init__(self, llm: ChatLlm, breaker: CircuitBreaker) -> None:
        self._llm = llm
        self.breaker = breaker

    @property
    def model(self) -> str:
        return self._llm.model

    async def complete(
        self, system: str, user: str, schema: JsonSchema, answer_type: type[T], usage: LlmUsage
    ) -> T:
        if not self.breaker.try_call():
            raise unavailable(self.breaker, usage)
        endpoint_failed = True  # also when the call is cancelled: the probe must not stick
        try:
            answer = await self._llm.complete(system, user, schema, answer_type, usage)
        except LlmFailure as failure:
            endpoint_failed = failure.kind in ENDPOINT_FAILURES
            raise
        else:
            endpoint_failed = False
            return answer
        finally:
            self.breaker.record(endpoint_failed=endpoint_failed)


def unavailable(breaker: CircuitBreaker, usage: LlmUsage) -> LlmFailure:
    return LlmFailure(
        "unavailable",
        "the LLM endpoint failed repeatedly; calls resume after a cool-down "
        "(MEMORY_LLM_BREAKER_COOLDOWN_S)",
        usage,
        retry_after_s=max(breaker.wait_s(), 1.0),
    )
