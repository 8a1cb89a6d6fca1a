"""The LLM's decisions, checked against the rules before anything is applied.

A decision is rejected, with its reason, when its fact could not be stored, it names a memory
that was not shown (or none, for UPDATE / DELETE / NONE), it changes a memory another fact
already changes, or its UPDATE / DELETE fact is unrelated to the memory it would change (so
text injected into a conversation cannot wipe unrelated memories). A category outside those
the add offered is dropped from its fact, and reported the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.domain.adding.prompt import Decision
from service.domain.adding.results import AddResult, RejectedDecision
from service.domain.guidance import CategoryChoice
from service.domain.ports import TextEmbedder
from service.domain.texts import check_memory_text, storable_form
from service.errors import InvalidRequest
from service.models import Memory, Vector


@dataclass(frozen=True, slots=True)
class Planned:
    """A decision the rules allow: the fact's vector, the memory it changes, its categories."""

    decision: Decision
    vector: Vector
    target: Memory | None
    categories: tuple[str, ...] = ()


class DecisionPlanner:
    def __init__(self, embedder: TextEmbedder, *, related_similarity: float, max_fact_chars: int):
        self._embedder = embedder
        self._related = related_similarity
        self._max_fact_chars = max_fact_chars

    async def plan(
        self,
        decisions: list[Decision],
        candidates: list[Memory],
        categories: CategoryChoice,
        result: AddResult,
    ) -> list[Planned]:
        """Keep the decisions the rules allow; say why each other one was rejected."""
        kept = self._known_targets(decisions, candidates, result)
        if not kept:
            return []
        # Facts and the memories they would change, embedded in one pass.
        vectors = await self._embedder.embed(
            [d.fact for d, _ in kept] + [t.text for _, t in kept if t is not None]
        )
        target_vectors = iter(vectors[len(kept) :])
        planned = []
        for (decision, target), vector in zip(kept, vectors, strict=False):
            if target is not None:
                similarity = float(np.dot(vector, next(target_vectors)))
                if decision.event in ("UPDATE", "DELETE") and similarity < self._related:
                    result.rejected.append(
                        RejectedDecision(
                            decision.fact,
                            decision.event,
                            f"the fact is unrelated to memory id {decision.memory} "
                            f"(similarity {similarity:.2f} < {self._related})",
                        )
                    )
                    continue
            planned.append(
                Planned(decision, vector, target, _categories(decision, categories, result))
            )
        return planned

    def _known_targets(
        self, decisions: list[Decision], candidates: list[Memory], result: AddResult
    ) -> list[tuple[Decision, Memory | None]]:
        """The decisions whose fact may be stored and that name a memory shown (or none, for
        ADD), each with the memory it names."""
        kept: list[tuple[Decision, Memory | None]] = []
        targeted: set[int] = set()
        for decision in decisions:
            fact = decision.fact.strip()
            reason = _unstorable(fact, self._max_fact_chars)
            if reason is not None:
                pass
            elif decision.event != "ADD" and decision.memory is None:
                reason = f"{decision.event} needs the id of an existing memory"
            elif decision.event != "ADD" and not 0 <= (decision.memory or 0) < len(candidates):
                reason = f"memory id {decision.memory} was not among the memories shown"
            elif decision.event in ("UPDATE", "DELETE") and decision.memory in targeted:
                reason = f"memory id {decision.memory} was already changed by another fact"
            if reason:
                result.rejected.append(
                    RejectedDecision(storable_form(fact), decision.event, reason)
                )
                continue
            target = (
                candidates[decision.memory]
                if decision.event != "ADD" and decision.memory is not None
                else None
            )
            if decision.event in ("UPDATE", "DELETE") and decision.memory is not None:
                targeted.add(decision.memory)
            kept.append(
                (Decision(fact, decision.event, decision.memory, decision.categories), target)
            )
        return kept


def _categories(decision: Decision, choice: CategoryChoice, result: AddResult) -> tuple[str, ...]:
    """The categories of a fact that is stored (ADD) or replaces a memory's text (UPDATE);
    the others leave every memory's categories as they are."""
    if decision.event not in ("ADD", "UPDATE"):
        return ()
    chosen, dropped = choice.choose(decision.categories)
    if dropped:
        result.rejected.append(
            RejectedDecision(decision.fact, decision.event, choice.why_dropped(dropped))
        )
    return chosen


def _unstorable(fact: str, max_chars: int) -> str | None:
    """Why a fact the LLM drew may not be stored (the rules every stored text meets), or None."""
    try:
        check_memory_text(fact, max_chars)
    except InvalidRequest as refusal:
        return refusal.detail
    if not any(character.isalnum() for character in fact):
        # "..." or "-" says nothing: a model filling the schema's slots, not a fact.
        return "the fact has no letter or digit: it states nothing"
    return None
