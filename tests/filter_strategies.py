"""Hypothesis strategies for the filter language (docs/api.md "Filters", service.domain.filters).

``well_formed`` draws filters the grammar accepts: equality by default, the operators eq ne
gt gte lt lte in nin contains with operands of the types each takes, AND / OR / NOT groups, over
metadata keys (also as ``metadata.<key>``) and the built-in fields. ``near_misses`` draws what
a careless or hostile client sends: wrong types, unknown operators, lists where objects go,
nested lists, empty groups, bad field names, extreme numbers, NUL and other unicode, dates
that are impossible or out of range, nesting past the limit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

METADATA_KEYS = ("category", "priority", "tags", "note", "active", "score", "nested", "missing")
SCOPE_VALUES = ("fp", "coach", "r1", "r2", "other", "")
SCOPE_FIELDS = ("user_id", "agent_id", "run_id")
TIME_FIELDS = ("created_at", "updated_at")
CATEGORY_VALUES = ("food", "health", "Health", "travel", "")
COMPARISONS = ("gt", "gte", "lt", "lte")
MAX_DEPTH = 6  # service.domain.filters.MAX_DEPTH: groups nest at most this deep

Filter = dict[str, Any]

# Values the seeded memories hold, so that conditions match some of them.
_FAMILIAR = st.sampled_from(
    ["health", "music", "work", "Health", "night shift", "a", "food", "", "ünïcödé ✓"]
)
_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8
).filter(lambda text: text != "*")  # "*" is Mem0's wildcard: 501 there by design
strings = st.one_of(_FAMILIAR, _TEXT)
numbers = st.one_of(
    st.integers(-3, 5),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 1.5, 2.0, -0.0, 1e308, -1e308, 10**30]),
)
present = st.one_of(st.booleans(), numbers, strings)  # what in, nin and contains take
scalars = st.one_of(st.none(), present)
comparable = st.one_of(numbers, strings)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(strings, children, max_size=3)
    ),
    max_leaves=6,
)
_OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
# Well inside the stored range, so that no offset carries one outside it.
times = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
    st.datetimes(min_value=datetime(1001, 1, 1), max_value=datetime(8998, 12, 31)),
    _OFFSETS,
) | st.sampled_from(["2023-05-08T10:00:00+00:00", "2020-01-01T00:00:00Z", "1500-06-01T12:00:00Z"])


def _metadata_condition(key: str) -> st.SearchStrategy[Filter]:
    operator_maps = st.one_of(
        st.fixed_dictionaries({"eq": json_values}),
        st.fixed_dictionaries({"ne": json_values}),
        st.dictionaries(st.sampled_from(COMPARISONS), comparable, min_size=1, max_size=2),
        st.fixed_dictionaries({"in": st.lists(present, min_size=1, max_size=4)}),
        st.fixed_dictionaries({"nin": st.lists(present, min_size=1, max_size=4)}),
        st.fixed_dictionaries({"contains": present}),
    )
    # A bare object would be read as an operator map: equality with one needs "eq".
    shorthand = json_values.filter(lambda value: not isinstance(value, dict))
    return st.builds(lambda value: {key: value}, st.one_of(shorthand, operator_maps))


def _scope_condition(field: str) -> st.SearchStrategy[Filter]:
    ids = st.one_of(st.sampled_from(SCOPE_VALUES), _TEXT)
    operator_maps = st.one_of(
        st.dictionaries(
            st.sampled_from(("eq", "ne", "contains", *COMPARISONS)), ids, min_size=1, max_size=2
        ),
        st.dictionaries(
            st.sampled_from(("in", "nin")), st.lists(ids, min_size=1, max_size=3), min_size=1
        ),
    )
    return st.builds(lambda value: {field: value}, st.one_of(ids, operator_maps))


def _time_condition(field: str) -> st.SearchStrategy[Filter]:
    operators = st.sampled_from(("eq", "ne", *COMPARISONS))
    return st.builds(
        lambda value: {field: value},
        st.one_of(times, st.dictionaries(operators, times, min_size=1, max_size=2)),
    )


def _categories_condition() -> st.SearchStrategy[Filter]:
    names = st.one_of(st.sampled_from(CATEGORY_VALUES), _TEXT)
    operator_maps = st.one_of(
        st.dictionaries(st.sampled_from(("eq", "ne", "contains")), names, min_size=1),
        st.dictionaries(
            st.sampled_from(("in", "nin")), st.lists(names, min_size=1, max_size=3), min_size=1
        ),
    )
    return st.builds(lambda value: {"categories": value}, st.one_of(names, operator_maps))


def _field_condition() -> st.SearchStrategy[Filter]:
    metadata_field = st.sampled_from(METADATA_KEYS).flatmap(
        lambda key: st.sampled_from([key, f"metadata.{key}"]).flatmap(_metadata_condition)
    )
    return st.one_of(
        metadata_field,
        st.sampled_from(SCOPE_FIELDS).flatmap(_scope_condition),
        st.sampled_from(TIME_FIELDS).flatmap(_time_condition),
        _categories_condition(),
    )


def _fields() -> st.SearchStrategy[Filter]:
    """One object of one or two conditions on different fields (ANDed)."""
    return st.lists(_field_condition(), min_size=1, max_size=2).map(
        lambda conditions: {k: v for condition in conditions for k, v in condition.items()}
    )


def _groups(children: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.one_of(
        st.builds(lambda items: {"AND": items}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda items: {"OR": items}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda item: {"NOT": item}, children),
    )


def depth(raw: Any) -> int:
    """How deep groups nest in a filter (a filter of fields alone: 0)."""
    if not isinstance(raw, dict):
        return 0
    inner = [
        depth(item)
        for key, value in raw.items()
        if key in ("AND", "OR", "NOT")
        for item in (value if isinstance(value, list) else [value])
    ]
    return 1 + max(inner) if inner else 0


well_formed: st.SearchStrategy[Filter] = st.recursive(_fields(), _groups, max_leaves=5).filter(
    lambda raw: depth(raw) <= MAX_DEPTH
)


def to_mem0(raw: Filter, draw: Any) -> Filter:
    """The same filter in the Mem0 dialect, in one of the forms it may take there: ``NOT``
    with a list, metadata conditions inside ``{"metadata": {...}}``. ``draw`` is
    ``st.data().draw``."""
    translated: Filter = {}
    for key, value in raw.items():
        if key in ("AND", "OR"):
            translated[key] = [to_mem0(item, draw) for item in value]
        elif key == "NOT":
            inner = to_mem0(value, draw)
            translated[key] = [inner] if draw(st.booleans()) else inner
        elif key in (*SCOPE_FIELDS, *TIME_FIELDS, "categories") or not draw(st.booleans()):
            translated[key] = value
        else:
            metadata = translated.setdefault("metadata", {})
            name = key.removeprefix("metadata.")
            # One object may hold both "k" and "metadata.k": group only the first of them.
            if name in metadata:
                translated[key] = value
            else:
                metadata[name] = value
    return translated


# --- near misses ---------------------------------------------------------------------------

_WRONG_VALUES = st.one_of(
    json_values,
    st.sampled_from(
        [
            [],
            {},
            [[]],
            [1, [2]],
            [[1, 2], [3]],
            {"eq": 1},
            "a\x00b",
            "\u200b",
            "\U0001d518\U0001d52b\u00ef",  # fraktur letters and a diaeresis
            1e308,
            -(10**40),
            10**400,
            float("nan"),
            float("-inf"),
            True,
            None,
        ]
    ),
)
_BAD_TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "0999-12-31T23:59:59+00:00",
        "9000-01-01T00:00:00Z",
        "2026-02-30",
        "2026-02-30T00:00:00Z",
        "2023-01-01",
        "2023-01-01T00:00:00",
        "yesterday",
        "",
        1e20,
        -1e20,
        10**30,
        0,
        1_700_000_000,
        -62135596800,
        1.5,
    ]
)
_OPERATORS = st.sampled_from(
    [
        "eq",
        "ne",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "nin",
        "contains",
        "between",
        "like",
        "EQ",
        "$eq",
        "",
    ]
)
_FIELDS = st.one_of(
    st.sampled_from(METADATA_KEYS + SCOPE_FIELDS + TIME_FIELDS),
    st.sampled_from(
        [
            "bad key!",
            "",
            "metadata.",
            "metadata",
            "x" * 65,
            "ünï",
            "metadata.metadata.x",
            "and",
            "not",
        ]
    ),
)


def _near_miss_condition() -> st.SearchStrategy[Any]:
    operand = st.one_of(_WRONG_VALUES, _BAD_TIMES)
    return st.one_of(
        st.builds(lambda field, value: {field: value}, _FIELDS, operand),
        st.builds(
            lambda field, ops: {field: ops},
            _FIELDS,
            st.dictionaries(_OPERATORS, operand, max_size=3),
        ),
        st.sampled_from(TIME_FIELDS).flatmap(
            lambda field: st.builds(lambda op, value: {field: {op: value}}, _OPERATORS, _BAD_TIMES)
        ),
    )


def _near_miss_groups(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    group = st.sampled_from(["AND", "OR", "NOT", "and", "Or"])
    return st.one_of(
        st.builds(lambda key, items: {key: items}, group, st.lists(children, max_size=3)),
        st.builds(lambda key, item: {key: item}, group, children),
        st.lists(children, max_size=2),
    )


def _deep(levels: int) -> Filter:
    nested: Filter = {"category": "health"}
    for _ in range(levels):
        nested = {"NOT": nested}
    return nested


near_misses: st.SearchStrategy[Any] = st.one_of(
    _near_miss_condition(),
    st.recursive(st.one_of(_near_miss_condition(), well_formed), _near_miss_groups, max_leaves=4),
    st.builds(_deep, st.integers(MAX_DEPTH, MAX_DEPTH + 3)),
    _WRONG_VALUES,  # no object at all
)
