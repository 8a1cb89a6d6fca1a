"""Packing memories into a prompt block within a token budget, with the real tokenizer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.adapters.tokenizer import TiktokenCounter
from service.domain.adding.request import Turn
from service.domain.context import (
    HEADER,
    MAX_QUERY_CHARS,
    ContextLimits,
    memory_line,
    pack,
    query_of_messages,
)
from service.errors import InvalidRequest
from service.models import Memory, Scope, SearchHit

TOKENS = TiktokenCounter()
LIMITS = ContextLimits(max_text_chars=8000, max_messages=100)
TOLD = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def hit(text: str, similarity: float = 0.5, told: datetime = TOLD) -> SearchHit:
    memory = Memory(uuid.uuid4(), text, Scope("alice"), {}, told, told)
    return SearchHit(memory, similarity)


def test_the_tokenizer_is_cl100k_base_and_reads_special_tokens_as_text() -> None:
    assert TOKENS.name == "cl100k_base"
    assert TOKENS.count("hello world") == 2  # cl100k_base: "hello", " world"
    assert TOKENS.count("<|endoftext|>") > 1  # text, not the one special token


def test_a_line_is_the_utc_date_told_and_the_text_on_one_line() -> None:
    late_in_lisbon = datetime(2026, 11, 3, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    line = memory_line(hit("Alice  lives\nin\tBerlin\u2028now", told=late_in_lisbon).memory)
    assert line == "- [2026-11-04] Alice lives in Berlin now"


def test_the_block_is_a_header_then_one_line_per_memory_best_first() -> None:
    hits = [hit("Alice is allergic to peanuts", 0.9), hit("Alice lives in Berlin", 0.4)]
    text, used, tokens = pack(hits, 1000, TOKENS)
    assert text == (
        f"{HEADER}\n- [2026-11-03] Alice is allergic to peanuts\n- [2026-11-03] Alice lives in Berlin"
    )
    assert used == hits
    assert tokens == TOKENS.count(text)


@pytest.mark.parametrize("budget", [1, 5, 17, 18, 19, 25, 30, 40, 64, 100, 333, 1000])
def test_the_budget_is_never_exceeded(budget: int) -> None:
    hits = [hit(f"memory {n}: " + "peanuts and cello. " * (n % 7), 1 - n / 100) for n in range(60)]
    text, used, tokens = pack(hits, budget, TOKENS)
    assert tokens == TOKENS.count(text) <= budget
    assert (text == "") == (used == [])
    assert text.splitlines()[1:] == [memory_line(h.memory) for h in used]
    ranks = [hits.index(h) for h in used]
    assert ranks == sorted(ranks)  # still best first


def test_a_memory_is_never_cut_a_shorter_one_may_take_its_place() -> None:
    long, short = hit("Alice " + "really " * 200 + "likes tea", 0.9), hit("Alice likes tea", 0.5)
    budget = TOKENS.count(f"{HEADER}\n{memory_line(short.memory)}")
    _, used, tokens = pack([long, short], budget, TOKENS)
    assert used == [short]
    assert tokens <= budget


def test_a_budget_below_the_header_and_one_line_gives_an_empty_block() -> None:
    just_short = TOKENS.count(f"{HEADER}\n- [2026-11-03] Alice likes tea") - 1
    assert pack([hit("Alice likes tea")], just_short, TOKENS) == ("", [], 0)
    assert pack([], 1000, TOKENS) == ("", [], 0)


def test_the_query_is_the_last_user_turns() -> None:
    turns = [Turn("user", f"u{n}") if n % 2 else Turn("assistant", f"a{n}") for n in range(10)]
    assert query_of_messages([Turn("system", "be brief"), *turns], LIMITS) == "u5\nu7\nu9"
    long = [Turn("user", " ".join(["old"] * 400)), Turn("user", "What about peanuts?")]
    query = query_of_messages(long, LIMITS)
    assert len(query) <= MAX_QUERY_CHARS
    assert query.endswith("old\nWhat about peanuts?")


@pytest.mark.parametrize("tail", [" " * 1200, "\n" * 1200, "\u200b" * 1200, " \u200d\t" * 400])
def test_trailing_blanks_or_invisible_characters_leave_the_words_to_search(tail: str) -> None:
    question = "Can I eat shrimp tonight?"
    assert query_of_messages([Turn("user", question + tail)], LIMITS) == question
    turns = [Turn("user", "Lunch at noon?"), Turn("user", "\u200b" * 900 + question)]
    assert query_of_messages(turns, LIMITS) == f"Lunch at noon?\n{question}"


@pytest.mark.parametrize(
    ("turns", "detail"),
    [
        ([], "'messages' is empty"),
        ([Turn("assistant", "Hello!")], "holds no user turn"),
        ([Turn("user", "a\x00b")], "messages[0].content holds the NUL"),
        ([Turn("user", "ok"), Turn("user", "\u200b ")], "messages[1].content must not be blank"),
        ([Turn("user", "x" * 8001)], "messages[0].content is 8001 characters long"),
        ([Turn("user", "hi")] * 101, "the limit is 100: send the last turns only"),
    ],
)
def test_bad_messages_say_what_to_change(turns: list[Turn], detail: str) -> None:
    with pytest.raises(InvalidRequest, match=None) as raised:
        query_of_messages(turns, LIMITS)
    assert detail in raised.value.detail
