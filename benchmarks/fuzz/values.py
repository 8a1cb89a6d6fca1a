"""Hostile values for the fuzzer's requests: extreme and impossible dates, deep JSON, unicode
that breaks naive code, list-valued and malformed filters, wrong content types, odd keys.

Texts carry ``CANARY_SLOT`` (see ``wire``), so that each request's canary ends up where a
user's words would: in stored memories, prompts and search queries.
"""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from benchmarks.fuzz.wire import CANARY_SLOT, Header


def chance(draw: st.DrawFn, p: float) -> bool:
    """True with probability ``p`` (``st.floats(0, 1)`` is 0.0 far more often than uniform)."""
    return draw(st.randoms(use_true_random=True)).random() < p


def mix(*options: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of ``options``, each as likely (``st.one_of`` favours the complex ones)."""
    return st.randoms(use_true_random=True).flatmap(lambda rng: rng.choice(options))


# --- dates ----------------------------------------------------------------------------------

DATE_STRINGS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-12:00",
    "0001-01-01",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+14:00",
    "9999-12-31",
    "2026-02-30T00:00:00Z",
    "2026-02-30",
    "2023-02-29",
    "2024-02-29T12:00:00Z",
    "2023-13-01T00:00:00Z",
    "2023-06-01T24:00:00Z",
    "2016-12-31T23:59:60Z",
    "2023-06-01T00:00:00",
    "2023-06-01 00:00:00",
    "2023-06-01T00:00:00+25:00",
    "2023-06-01T00:00:00+23:59",
    "2023-06-01T00:00:00.1234567891Z",
    "-0001-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z",
    "0000-00-00T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2038-01-19T03:14:08Z",
    "2099-01-01T00:00:00Z",
    "20230601T000000Z",
    "2023-W01-1",
    "2023-001",
    "1e20",
    "-1",
    "now",
    "",
    " ",
    "\u0662\u0660\u0662\u0663-\u0660\u0666-\u0660\u0661",  # Arabic-Indic digits
]
DATE_NUMBERS: list[int | float] = [
    1e20,
    -1e20,
    1e308,
    -62135596800,  # 0001-01-01
    -62135596801,
    253402300799,  # 9999-12-31T23:59:59
    253402300800,
    2**63,
    -(2**63),
    2**64,
    0,
    -1,
    1.5,
    1700000000,
    1700000000000,  # milliseconds, as some clients send
]
_ZONES = [None, UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))]
_ZONES.append(timezone(timedelta(hours=23, minutes=59)))


def _iso(moment: datetime, zone: timezone | None) -> str:
    return moment.replace(tzinfo=zone).isoformat()


@functools.cache
def dates() -> st.SearchStrategy[Any]:
    """A time value as a client might send it, usually broken or at an edge."""
    drawn = st.builds(
        _iso,
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
        st.sampled_from(_ZONES),
    )
    recent = st.builds(
        _iso,
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 1, 1)),
        st.sampled_from(_ZONES[1:]),
    )
    edges = st.one_of(st.sampled_from(DATE_STRINGS), st.sampled_from(DATE_NUMBERS))
    return st.one_of(recent, edges, edges, drawn)


DATED_QUERIES = [
    "What happened on 9999-12-31?",
    "What did I do on December 31, 9999?",
    "what about 31 December 9999",
    "in December 9999",
    "What happened on 0001-01-01?",
    "on 1 January, 0001",
    "January 0000 plans",
    "on 0000-00-00",
    "What did I do on February 30, 2026?",
    "the 2026-02-30 meeting",
    "the 2023-13-45 appointment",
    "on 31 June 2023",
    "during 2099 and throughout 1900",
    "May 99, 2023",
]


# --- text -----------------------------------------------------------------------------------

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u180e\u00ad"
SPECIAL_TEXTS = [
    "\x00",
    "a\x00b",
    "\u200b\u200b\u200b",
    "\ufeff",
    " \t\n\r ",
    "\u202eevil\u202c text",
    "\u200f\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd\u200f",  # Hebrew, RTL marks
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",  # Arabic
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\U0001f3f3\ufe0f\u200d\U0001f308",  # ZWJ emoji
    "\U0001f1e9\U0001f1ea\U0001f600" * 20,
    "e\u0301\u0301\u0301\u0301\u0301",
    "\ud800",  # a lone surrogate: escaped in JSON, invalid as UTF-8
    "\udfff\ud800",
    "\U0010ffff",
    "\x1b[31mred\x1b[0m",
    "line\nbreak\rreturn",
    "'; DROP TABLE memories; --",
    "%s %d {0} ${x} {{x}}",
    "\\u0000",
]


@functools.cache
def plain_words() -> st.SearchStrategy[str]:
    words = st.sampled_from(
        ["Alice", "likes", "jazz", "in", "Lisbon", "peanuts", "allergic", "cello", "2023", "on"]
    )
    return st.lists(words, min_size=1, max_size=8).map(" ".join)


@functools.cache
def unicode_junk() -> st.SearchStrategy[str]:
    with_surrogates = st.characters(categories=["Cs"]) | st.characters()
    return st.one_of(
        st.text(st.characters(), max_size=40),
        st.text(st.characters(), max_size=40),
        st.text(with_surrogates, max_size=40),
        st.sampled_from(SPECIAL_TEXTS),
        st.text(st.sampled_from(ZERO_WIDTH), min_size=1, max_size=10),
    )


@functools.cache
def long_text() -> st.SearchStrategy[str]:
    sizes = st.sampled_from([7990, 7999, 8000, 8001, 20_000, 100_000])
    return st.builds(lambda n, c: (c * n)[:n], sizes, st.sampled_from(["x", "é", "😀", "ab "]))


@functools.cache
def texts() -> st.SearchStrategy[str]:
    """A memory text or query with the request's canary somewhere in it."""
    with_canary = st.builds(
        lambda before, after: f"{before} {CANARY_SLOT} {after}",
        st.one_of(plain_words(), unicode_junk(), st.sampled_from(DATED_QUERIES)),
        st.one_of(st.just(""), unicode_junk()),
    )
    plain = st.builds(lambda words: f"{words} {CANARY_SLOT}", plain_words())
    return st.one_of(
        plain,
        plain,
        plain,
        with_canary,
        with_canary,
        with_canary,
        st.builds(lambda t: f"{CANARY_SLOT} {t}", long_text()),
        st.builds(lambda t: t + CANARY_SLOT, st.sampled_from(SPECIAL_TEXTS)),
    )


@functools.cache
def invisible_text() -> st.SearchStrategy[str]:
    """Nothing a person can see (the canary then goes into metadata)."""
    return st.text(st.sampled_from(ZERO_WIDTH + " \t\n"), min_size=1, max_size=12)


@functools.cache
def scope_ids() -> st.SearchStrategy[Any]:
    """Mostly a few shared ids (so requests meet each other's data), sometimes odd ones."""
    shared = st.sampled_from(["alice", "bob", "carol", "agent-1", "run-1"])
    odd = st.one_of(
        st.sampled_from(["", " ", "a" * 255, "a" * 256, "*", "\x00", "../x", "%00", "é", "😀"]),
        unicode_junk(),
        st.integers(),
        st.none(),
    )
    return st.one_of(shared, shared, shared, odd)


# --- JSON -----------------------------------------------------------------------------------

QUERY_DEPTH = 2000  # percent-encoded, {"a": takes 13 characters a level
DEPTHS = [64, 100, 500, 999, 1000, 1001, 2000, 10_000, 100_000]


@functools.cache
def deep_json(deepest: int = DEPTHS[-1]) -> st.SearchStrategy[str]:
    """JSON text nested 64 to 100,000 levels deep (built as text: json.dumps would recurse).
    In a query string, 2,000 levels at most: httpx sends no URL over 64 KiB."""
    depths = st.sampled_from([depth for depth in DEPTHS if depth <= deepest])
    return st.builds(_nest, depths, st.sampled_from(["list", "object", "mixed"]))


def _nest(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "1" + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return '{"a":[' * (depth // 2) + "1" + "]}" * (depth // 2)


@functools.cache
def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.sampled_from(DATE_STRINGS),
    )


@functools.cache
def metadata() -> st.SearchStrategy[Any]:
    keys = st.one_of(
        st.sampled_from(["category", "tags", "priority", "note", "created_at", "", "a.b", "NOT"]),
        st.text(max_size=8),
    )
    value = st.recursive(json_scalars(), lambda inner: st.lists(inner, max_size=3), max_leaves=6)
    normal = st.dictionaries(keys, value, max_size=4)
    with_canary = normal.map(lambda found: {**found, "note": CANARY_SLOT})
    not_an_object = st.one_of(st.lists(json_scalars(), max_size=2), json_scalars())
    return st.one_of(normal, normal, with_canary, with_canary, with_canary, not_an_object)


# --- filters ----------------------------------------------------------------------------------

FILTER_FIELDS = [
    "category", "tags", "priority", "user_id", "agent_id", "run_id", "created_at",
    "updated_at", "metadata.tags", "metadata.created_at", "metadata.", "bad key!", "", "AND",
    "and", "Not", "x" * 65,
]  # fmt: skip
OPERATORS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains", "$eq"]
KNOWN_BAD_FILTERS: list[Any] = [
    {"tags": []},
    {"category": [1, [2]]},
    {"category": ["a", "b"]},
    {"tags": {"ne": ["a"]}},
    {"tags": {"nin": [["a"]]}},
    {"tags": {"in": []}},
    {"tags": {"eq": []}},
    {"tags": {"eq": {"a": [1]}}},
    {"tags": {"contains": [1]}},
    {"user_id": ["alice"]},
    {"user_id": {"in": [1, None]}},
    {"created_at": {"gt": "0001-01-01T00:00:00Z"}},
    {"created_at": {"lte": "9999-12-31T23:59:59Z"}},
    {"created_at": {"gte": 1e20}},
    {"created_at": "2026-02-30T00:00:00Z"},
    {"NOT": {"tags": []}},
    {"NOT": [{"a": 1}, {"b": [2]}]},
    {"AND": []},
    {"OR": [{}]},
    {"AND": [{"OR": [{"NOT": {"tags": {"nin": [1, [2]]}}}]}]},
    {"metadata": {"tags": []}},
    {"metadata": {"tags": {"in": ["a", ["b"]]}}},
    {"metadata": {"category": "*"}},
]


@functools.cache
def filters() -> st.SearchStrategy[Any]:
    """Filters from the grammar (valid or nearly), list-valued ones, and known breakers."""
    scalar = st.one_of(st.sampled_from(["health", "jazz", "a", ""]), st.integers(-3, 3))
    weird = st.one_of(
        json_scalars(),
        st.lists(st.one_of(json_scalars(), st.lists(json_scalars(), max_size=2)), max_size=4),
        st.dictionaries(st.sampled_from(["a", "eq"]), json_scalars(), max_size=2),
        dates(),
    )
    operand = mix(scalar, scalar, st.lists(scalar, min_size=1, max_size=4), weird, weird)
    good_field = st.sampled_from(["category", "tags", "priority", "metadata.tags", "user_id"])
    field = mix(good_field, good_field, st.sampled_from(FILTER_FIELDS), st.text(max_size=6))
    good_operator = st.sampled_from(OPERATORS[:-2])
    operator = mix(good_operator, good_operator, st.sampled_from(OPERATORS))
    condition = st.one_of(
        st.builds(lambda f, v: {f: v}, field, operand),
        st.builds(lambda f, o, v: {f: {o: v}}, field, operator, operand),
    )
    tree = st.recursive(
        condition,
        lambda inner: st.one_of(
            st.builds(lambda items: {"AND": items}, st.lists(inner, max_size=4)),
            st.builds(lambda items: {"OR": items}, st.lists(inner, max_size=4)),
            st.builds(lambda item: {"NOT": item}, inner),
            st.builds(lambda items: {"NOT": items}, st.lists(inner, max_size=3)),
            st.builds(lambda a, b: {**a, **b}, inner, inner),
        ),
        max_leaves=14,
    )
    known = st.sampled_from(KNOWN_BAD_FILTERS)
    return mix(tree, tree, tree, tree, tree, known, known, json_scalars())


@functools.cache
def filter_text() -> st.SearchStrategy[str]:
    """The ``filters`` query parameter: JSON of a filter, deep JSON, or not JSON at all."""
    return st.one_of(
        filters().map(lambda f: json.dumps(f, allow_nan=True)),
        deep_json(QUERY_DEPTH),
        st.sampled_from(["{", "null", "[]", '{"a":1', "NaN", "1e999", '{"a": 1}x']),
        unicode_junk(),
    )


# --- headers ----------------------------------------------------------------------------------

WRONG_CONTENT_TYPES = [
    "text/plain",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/json; charset=utf-16",
    "application/json; charset=latin-1",
    "application/JSON",
    "application/problem+json",
    "application/x-ndjson",
    "application/json, text/plain",
    "*/*",
    "image/png",
    "",
    "application/json; boundary=\x7f",
]


def auth_headers(keys: dict[str, str]) -> st.SearchStrategy[tuple[Header, ...]]:
    a, b = keys["fuzz-a"], keys["fuzz-b"]
    variants: list[tuple[Header, ...]] = [
        (("Authorization", f"Bearer {a}"), ("X-API-Key", b)),
        (("Authorization", f"Bearer {a}"), ("Authorization", f"Bearer {b}")),
        (("X-API-Key", a), ("X-API-Key", b)),
        (("X-API-Key", a), ("X-API-Key", a)),
        (("Authorization", f"Bearer {a}"), ("X-API-Key", a)),
        (("Authorization", f"bearer {a}"),),
        (("Authorization", f"Bearer  {a}"),),
        (("Authorization", f"Bearer {a} extra"),),
        (("Authorization", f"Token {a}"),),
        (("Authorization", f"Basic {base64.b64encode(f'{a}:'.encode()).decode()}"),),
        (("Authorization", f"Bearer {a[:-1]}"),),
        (("Authorization", f"Bearer {a}x"),),
        (("Authorization", f"Bearer {CANARY_SLOT}"),),
        (("X-API-Key", CANARY_SLOT),),
        (("Authorization", f"Bearer {CANARY_SLOT}" + "x" * 8000),),
        (("Authorization", b"Bearer \xff\xfe" + a.encode()),),
        (("Authorization", ""),),
        (("Authorization", "Bearer"),),
        (),
    ]
    return st.sampled_from(variants)
