"""The labelled cases: their shape, and the loader that refuses a case it cannot trust.

A case file (``cases/<category>.yaml``) is a list of cases, each written as a labeller reads it:

    - id: update-01
      category: update
      before:                        # stored without the LLM, under keys the labels name
        city: The user lives in Berlin
      conversation:
        - user: I moved to Lisbon last month!
          at: "2026-04-10T10:00:00Z"  # optional: the message's timestamp
      decisions:                     # what a careful model answers, as the prompt asks
        - UPDATE city: The user lives in Lisbon since March 2026
      after:                         # the scope's memories afterwards, one spec each
        - has: [Lisbon]              # a word, or a list of words one of which must appear
      also_accept:                   # optional: other answers the prompt's rules allow
        - decisions: [UPDATE city]
          after: [{has: [Lisbon]}]
      note: why the label is what it is (optional)

A decision is ``{"EVENT key": fact}`` (ADD has no key); in ``also_accept`` the fact may be left
out. An ``after`` entry is ``same: key`` (that memory, unchanged) or ``has``/``lacks`` words.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from benchmarks.decisions.judging import (
    Decision,
    MemorySpec,
    Outcome,
    after_matches,
    apply_decisions,
)

CASES_DIR = Path(__file__).parent / "cases"
CATEGORIES = (
    "new-fact",
    "exact-duplicate",
    "paraphrase",
    "update",
    "retraction",
    "several-facts",
    "other-people",
    "assistant",
    "time-bound",
    "injection",
)
EVENTS = ("ADD", "UPDATE", "DELETE", "NONE")
ROLES = ("user", "assistant")
# The service shows the LLM the 5 nearest memories of each user message; with at most 5 in
# the scope every stored memory is shown, so a label can always name its target.
MAX_MEMORIES_BEFORE = 5


_OPTIONAL = {"before", "also_accept", "note"}


class CaseFileError(ValueError):
    """A case file that does not say what a case needs, or says it inconsistently."""


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    category: str
    before: dict[str, str]  # key -> text, in the order they are stored
    conversation: tuple[Message, ...]
    expected: Outcome  # the labelled answer; every decision carries its fact
    also_accepted: tuple[Outcome, ...] = ()
    note: str | None = None

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return (self.expected, *self.also_accepted)

    def fingerprint(self) -> tuple[tuple[str, str], ...]:
        """What identifies the case in the service's prompt: its messages, in order."""
        return tuple((message.role, message.content) for message in self.conversation)


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    """Every case of every ``*.yaml`` file in ``directory``, checked one by one and together."""
    cases: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        cases.extend(parse_cases(yaml.safe_load(path.read_text()), path.name))
    check_case_set(cases)
    return cases


def parse_cases(raw: object, source: str) -> list[Case]:
    if not isinstance(raw, list):
        raise CaseFileError(f"{source}: a case file is a list of cases")
    cases = []
    for index, item in enumerate(raw):
        where = f"{source}[{index}]"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            where = f"{source}:{item['id']}"
        try:
            cases.append(_case(item))
        except (CaseFileError, KeyError, TypeError, ValueError) as problem:
            raise CaseFileError(f"{where}: {problem}") from problem
    return cases


def select_cases(cases: list[Case], patterns: str, limit: int | None) -> list[Case]:
    """The cases whose id matches one of the comma-separated patterns, or whose category is one."""

    def selects(pattern: str, case: Case) -> bool:
        return case.category == pattern or fnmatch.fnmatchcase(case.id, pattern)

    wanted = [pattern.strip() for pattern in patterns.split(",") if pattern.strip()]
    if unmatched := [p for p in wanted if not any(selects(p, case) for case in cases)]:
        # A mistyped id would otherwise shrink the run without a word.
        raise ValueError(f"no case matches {', '.join(unmatched)}")
    chosen = [case for case in cases if any(selects(p, case) for p in wanted)]
    return chosen[:limit] if limit is not None else chosen


def check_case_set(cases: list[Case]) -> None:
    """Ids name one case each, and the oracle can tell every case by its conversation."""
    seen_ids: set[str] = set()
    seen_conversations: dict[tuple[tuple[str, str], ...], str] = {}
    for case in cases:
        if case.id in seen_ids:
            raise CaseFileError(f"{case.id}: the id is used twice")
        seen_ids.add(case.id)
        other = seen_conversations.setdefault(case.fingerprint(), case.id)
        if other != case.id:
            raise CaseFileError(f"{case.id}: the same conversation as {other}")


def _case(item: object) -> Case:
    fields = _mapping(item, "a case")
    _only(fields, {"id", "category", "conversation", "decisions", "after"}, _OPTIONAL)
    category = _text(fields["category"], "category")
    if category not in CATEGORIES:
        raise CaseFileError(f"category {category!r} is not one of {', '.join(CATEGORIES)}")
    before = {
        _text(key, "a key of before"): _text(text, f"before.{key}")
        for key, text in _mapping(fields.get("before") or {}, "before").items()
    }
    if len(before) > MAX_MEMORIES_BEFORE:
        raise CaseFileError(f"at most {MAX_MEMORIES_BEFORE} memories before (all are shown)")
    if len({text.casefold() for text in before.values()}) != len(before):
        raise CaseFileError("two memories before with the same text")
    expected = _outcome(fields["decisions"], fields["after"], before, facts_required=True)
    predicted = apply_decisions(before, expected.decisions)
    if not after_matches(expected.after, predicted, before):
        raise CaseFileError(
            f"the labelled decisions leave {predicted}, which 'after' does not describe"
        )
    also = fields.get("also_accept") or []
    if not isinstance(also, list):
        raise CaseFileError("also_accept is a list")
    note = fields.get("note")
    return Case(
        id=_text(fields["id"], "id"),
        category=category,
        before=before,
        conversation=_conversation(fields["conversation"]),
        expected=expected,
        also_accepted=tuple(_alternative(entry, before) for entry in also),
        note=_text(note, "note") if note is not None else None,
    )


def _alternative(entry: object, before: dict[str, str]) -> Outcome:
    fields = _mapping(entry, "an also_accept entry")
    _only(fields, {"decisions", "after"}, set())
    return _outcome(fields["decisions"], fields["after"], before, facts_required=False)


def _outcome(
    decisions: object, after: object, before: dict[str, str], *, facts_required: bool
) -> Outcome:
    if not isinstance(decisions, list) or not isinstance(after, list):
        raise CaseFileError("decisions and after are lists")
    parsed = tuple(_decision(entry, before, facts_required) for entry in decisions)
    targets = [d.memory for d in parsed if d.event in ("UPDATE", "DELETE")]
    if len(targets) != len(set(targets)):
        raise CaseFileError("a memory is changed by two decisions (the service refuses that)")
    return Outcome(parsed, tuple(_memory_spec(entry, before) for entry in after))


def _decision(entry: object, before: dict[str, str], facts_required: bool) -> Decision:
    if isinstance(entry, str):
        label, fact = entry, None
    else:
        [(label, fact)] = _mapping(entry, "a decision").items()
        fact = _text(fact, f"the fact of {label}")
    event, _, key = _text(label, "a decision").partition(" ")
    if event not in EVENTS:
        raise CaseFileError(f"decision {label!r}: the event is one of {', '.join(EVENTS)}")
    if (event == "ADD") != (key == ""):
        raise CaseFileError(f"decision {label!r}: ADD names no memory, every other event one")
    if key and key not in before:
        raise CaseFileError(f"decision {label!r}: no memory {key!r} before")
    if facts_required and fact is None:
        raise CaseFileError(f"decision {label!r}: the labelled answer gives each fact")
    return Decision(event, key or None, fact)


def _memory_spec(entry: object, before: dict[str, str]) -> MemorySpec:
    fields = _mapping(entry, "an after entry")
    if "same" in fields:
        _only(fields, {"same"}, set())
        key = _text(fields["same"], "same")
        if key not in before:
            raise CaseFileError(f"after: no memory {key!r} before")
        return MemorySpec(same=key)
    _only(fields, {"has"}, {"lacks"})
    has = fields["has"]
    if not isinstance(has, list) or not has:
        raise CaseFileError("has: a list of words (or of lists of words, one of which)")
    words = tuple(
        tuple(_text(w, "a word") for w in item)
        if isinstance(item, list)
        else (_text(item, "a word"),)
        for item in has
    )
    lacks = tuple(_text(w, "a word") for w in fields.get("lacks") or [])
    return MemorySpec(has=words, lacks=lacks)


def _conversation(raw: object) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise CaseFileError("conversation: a list of messages")
    messages = []
    for entry in raw:
        fields = _mapping(entry, "a message")
        [role] = [name for name in fields if name in ROLES]
        _only(fields, {role}, {"at"})
        messages.append(Message(role, _text(fields[role], role), _time(fields.get("at"))))
    if not any(message.role == "user" for message in messages):
        raise CaseFileError("conversation: the service learns only from user messages; give one")
    return tuple(messages)


def _time(raw: object) -> datetime | None:
    if raw is None:
        return None
    # YAML reads an unquoted ISO time as a datetime itself.
    at = raw if isinstance(raw, datetime) else datetime.fromisoformat(_text(raw, "at"))
    if at.tzinfo is None:
        raise CaseFileError(f"at {raw}: give a timezone")
    if at > datetime.now(UTC):
        raise CaseFileError(f"at {raw}: the service refuses a message time to come")
    return at


def _mapping(raw: object, what: str) -> dict[Any, Any]:
    if not isinstance(raw, dict):
        raise CaseFileError(f"{what} is a mapping")
    return raw


def _text(raw: object, what: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        # YAML reads unquoted numbers and dates as such: quote them ("2026").
        raise CaseFileError(f"{what}: a non-empty text (quoted if it looks like more), not {raw!r}")
    return raw


def _only(fields: dict[Any, Any], required: set[str], optional: set[str]) -> None:
    problems = []
    if missing := required - fields.keys():
        problems.append(f"missing {sorted(missing)}")
    if unknown := fields.keys() - required - optional:
        problems.append(f"unknown {sorted(map(str, unknown))}")
    if problems:
        raise CaseFileError("; ".join(problems))
