"""The filter parser on plain values: what it accepts, what it refuses and how it says so."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.filters import parse_filter
from service.errors import InvalidFilter
from service.models import AllOf, AnyOf, Condition, FilterNode, Negation
from tests.filter_strategies import Filter, near_misses, strings, well_formed

RANGE = "between 1000-01-01T00:00:00Z (inclusive) and 9000-01-01T00:00:00Z (exclusive)"


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def _conditions(node: FilterNode) -> list[Condition]:
    if isinstance(node, Condition):
        return [node]
    if isinstance(node, Negation):
        return _conditions(node.item)
    assert isinstance(node, AllOf | AnyOf)
    return [found for item in node.items for found in _conditions(item)]


@settings(max_examples=100, deadline=None)
@given(raw=well_formed)
def test_every_well_formed_filter_parses(raw: Filter) -> None:
    node = parse_filter(raw)

    assert node is not None
    for condition in _conditions(node):
        if condition.field in ("created_at", "updated_at"):
            assert isinstance(condition.value, datetime)
            assert condition.value.utcoffset() is not None


@settings(max_examples=300, deadline=None)
@given(raw=near_misses)
def test_a_near_miss_parses_or_is_refused_with_a_reason(raw: Any) -> None:
    try:
        parse_filter(raw)
    except InvalidFilter as error:
        assert error.detail


@settings(max_examples=100, deadline=None)
@given(value=st.one_of(st.lists(strings, max_size=2), st.dictionaries(strings, strings)))
def test_a_metadata_key_equals_a_whole_array_or_object(value: Any) -> None:
    assert parse_filter({"tags": {"eq": value}}) == Condition("tags", "eq", value, False)
    if isinstance(value, list):  # a bare object would be an operator map
        assert parse_filter({"metadata.tags": value}) == Condition("tags", "eq", value, False)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"user_id": ["a"]}, "'user_id' compares with strings"),
        ({"user_id": []}, "'user_id' compares with strings"),
        ({"agent_id": {"ne": ["a"]}}, "'agent_id' compares with strings"),
        ({"run_id": {"gt": 1}}, "'run_id' compares with strings"),
        ({"tags": {"nin": [["a"]]}}, "takes strings, numbers or booleans"),
        ({"tags": {"in": []}}, "takes a list of 1 to 200 values"),
        ({"tags": float("nan")}, "finite numbers only"),
        ({"tags": {"in": [1, float("inf")]}}, "finite numbers only"),
        ({"tags": {"eq": {"a": [float("-inf")]}}}, "finite numbers only"),
        ({"tags": "a\x00"}, "NUL character"),
        ({"tags": {"eq": {"\x00": 1}}}, "NUL character"),
        ({"tags": {"eq": _nested(17)}}, "nests deeper than 16"),
        ({"created_at": {"gt": "0001-01-01T00:00:00Z"}}, f"created_at must lie {RANGE}"),
        ({"updated_at": "9000-01-01T00:00:00+00:00"}, f"updated_at must lie {RANGE}"),
        ({"created_at": "2026-02-30T00:00:00Z"}, "ISO 8601 timestamp between 1000-01-01"),
        ({"created_at": "2026-01-01T00:00:00"}, "needs a timezone"),
    ],
)
def test_what_cannot_be_compared_is_refused_naming_the_problem(raw: Any, message: str) -> None:
    with pytest.raises(InvalidFilter) as refused:
        parse_filter(raw)

    assert message in refused.value.detail


def test_the_bounds_of_the_range_are_times_a_filter_may_name() -> None:
    node = parse_filter(
        {"created_at": {"gte": "1000-01-01T00:00:00Z", "lt": "8999-12-31T23:59:59.999999Z"}}
    )

    assert node == AllOf(
        (
            Condition("created_at", "gte", datetime(1000, 1, 1, tzinfo=UTC), True),
            Condition(
                "created_at", "lt", datetime(8999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), True
            ),
        )
    )
