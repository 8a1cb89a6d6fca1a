"""Requests drawn by hypothesis from the native and Mem0 strategies, outside any test.

Hypothesis slows down as one run draws more examples (it keeps a tree of everything drawn), so
requests are drawn in chunks of a few hundred, each chunk a run of its own with its own seed;
``benchmarks.fuzz.run`` draws them in another process while the previous chunk is sent.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

from benchmarks.fuzz.mem0 import mem0_requests
from benchmarks.fuzz.native import native_requests
from benchmarks.fuzz.wire import CANARY_SLOT, Planned, json_text

CHUNK = 200
SEED_USERS = ("alice", "bob", "carol")


def draw_many(strategy: st.SearchStrategy[Planned], count: int, seed: int) -> list[Planned]:
    """``count`` examples of ``strategy`` (fewer only if it keeps repeating itself)."""
    drawn: list[Planned] = []
    attempt = 0
    while len(drawn) < count and attempt < 20:

        @settings(
            max_examples=count - len(drawn),
            phases=[Phase.generate],
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @fixed_seed(seed * 31 + attempt)
        @given(strategy)
        def collect(planned: Planned) -> None:
            drawn.append(planned)

        collect()
        attempt += 1
    return drawn[:count]


def generate(keys: dict[str, str], count: int, seed: int) -> list[Planned]:
    """Half native, half Mem0 dialect, shuffled so that the two meet in the same scopes."""
    planned = draw_many(native_requests(keys), count // 2, seed)
    planned += draw_many(mem0_requests(keys), count - len(planned), seed + 1)
    random.Random(seed).shuffle(planned)
    return planned


def seed_data() -> list[Planned]:
    """A few ordinary memories per tenant and user, so ids and searches find something."""
    planned = []
    for tenant in ("fuzz-a", "fuzz-b"):
        items = [
            {"text": f"{user} fact {n}: likes jazz in Lisbon {CANARY_SLOT}", "user_id": user}
            for user in SEED_USERS
            for n in range(4)
        ]
        body = json_text({"items": items})
        planned.append(Planned("seed/native", "POST", "/v1/memories/batch", tenant, body=body))
        mem0 = {
            "messages": [{"role": "user", "content": f"I play the cello {CANARY_SLOT}"}],
            "user_id": "alice",
        }
        body = json_text(mem0)
        planned.append(Planned("seed/mem0", "POST", "/v3/memories/add/", tenant, body=body))
    return planned
