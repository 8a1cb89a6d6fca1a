"""Whether what the service did matches a case's labels.

A real model paraphrases and chooses its own granularity ("Dana, 34, is a pharmacist" or three
facts), so a case is judged on what its labels pin down:

- the changes: the same memories UPDATEd, the same DELETEd, and something ADDed exactly when
  the labels ADD something; NONE changes nothing and is not required;
- the memories after: every spec is met by some memory, and every memory meets some spec
  (``same``: that memory's text unchanged; ``has``/``lacks``: words at a word's start, any case).

``exact`` is stricter: the events, NONE and the number of ADDs included, are the labelled ones.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The memory of an event that is not one of the case's memories before (e.g. NONE on a fact
# added earlier in the same add).
NEW_MEMORY = "(new)"


@dataclass(frozen=True, slots=True)
class Decision:
    event: str
    memory: str | None  # the key of a memory before; None for ADD
    fact: str | None = None

    def label(self) -> str:
        return self.event if self.memory is None else f"{self.event} {self.memory}"


@dataclass(frozen=True, slots=True)
class MemorySpec:
    same: str | None = None  # the key of a memory before that must be there unchanged
    has: tuple[tuple[str, ...], ...] = ()  # each: one of these words must appear
    lacks: tuple[str, ...] = ()

    def matches(self, text: str, before: Mapping[str, str]) -> bool:
        if self.same is not None:
            return _normalised(text) == _normalised(before[self.same])
        return all(any(_contains(text, word) for word in words) for words in self.has) and not any(
            _contains(text, word) for word in self.lacks
        )

    def label(self) -> str:
        if self.same is not None:
            return f"same {self.same}"
        words = ["/".join(alternatives) for alternatives in self.has]
        return " + ".join(words) + "".join(f" - {word}" for word in self.lacks)


@dataclass(frozen=True, slots=True)
class Outcome:
    decisions: tuple[Decision, ...]
    after: tuple[MemorySpec, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    exact: bool
    reason: str  # empty when passed


def judge(
    outcomes: Sequence[Outcome],
    before: Mapping[str, str],
    events: Sequence[Decision],
    memories: Sequence[str],
) -> Verdict:
    """``events``: what the service reported, each naming the memory's key before (or
    NEW_MEMORY; None for ADD); ``memories``: the texts of the scope afterwards."""
    accepted = [o for o in outcomes if after_matches(o.after, memories, before)]
    passed = any(changes_match(o.decisions, events) for o in accepted)
    exact = any(events_match_exactly(o.decisions, events) for o in accepted)
    if passed:
        return Verdict(True, exact, "")
    labelled = outcomes[0]
    reasons = []
    if not changes_match(labelled.decisions, events):
        reasons.append(
            f"events: expected [{describe(labelled.decisions)}], got [{describe(events)}]"
        )
    if not after_matches(labelled.after, memories, before):
        specs = "; ".join(spec.label() for spec in labelled.after)
        reasons.append(f"memories after: expected [{specs}], got {list(memories)}")
    if not reasons:
        reasons.append("matches neither the labels nor any accepted alternative as a whole")
    return Verdict(False, False, "; ".join(reasons))


def changes_match(expected: Sequence[Decision], observed: Sequence[Decision]) -> bool:
    def changes(decisions: Sequence[Decision]) -> tuple[set[str | None], set[str | None], bool]:
        return (
            {d.memory for d in decisions if d.event == "UPDATE"},
            {d.memory for d in decisions if d.event == "DELETE"},
            any(d.event == "ADD" for d in decisions),
        )

    return changes(expected) == changes(observed)


def events_match_exactly(expected: Sequence[Decision], observed: Sequence[Decision]) -> bool:
    return Counter(d.label() for d in expected) == Counter(d.label() for d in observed)


def after_matches(
    specs: Sequence[MemorySpec], memories: Sequence[str], before: Mapping[str, str]
) -> bool:
    """Every spec met by some memory, every memory meeting some spec."""
    return all(any(spec.matches(text, before) for text in memories) for spec in specs) and all(
        any(spec.matches(text, before) for spec in specs) for text in memories
    )


def apply_decisions(before: Mapping[str, str], decisions: Sequence[Decision]) -> list[str]:
    """The memories a scope would hold after the labelled decisions, applied as the service
    applies them (for checking labels against themselves)."""
    held: dict[str, str] = dict(before)
    for index, decision in enumerate(decisions):
        if decision.event == "ADD":
            held[f"{NEW_MEMORY}{index}"] = decision.fact or ""
        elif decision.event == "UPDATE" and decision.memory is not None:
            held[decision.memory] = decision.fact or ""
        elif decision.event == "DELETE" and decision.memory is not None:
            del held[decision.memory]
    return list(held.values())


def describe(decisions: Sequence[Decision]) -> str:
    counts = Counter(d.label() for d in decisions)
    return ", ".join(
        label if count == 1 else f"{label} x{count}" for label, count in sorted(counts.items())
    )


def _normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def _contains(text: str, word: str) -> bool:
    # At a word's start, so "cat" finds "cats" but not "vacation", and "smok" finds "smoking".
    # Models write the typographic apostrophe as often as the plain one.
    text = text.casefold().replace("\u2019", "'")
    return re.search(rf"(?<!\w){re.escape(word.casefold())}", text) is not None
