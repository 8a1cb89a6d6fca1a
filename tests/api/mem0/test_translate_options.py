"""The Mem0 dialect's LLM options and categories on plain values: custom categories in Mem0's
shape, an add's ``timestamp``, and filters on ``categories`` and ``timestamp``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from service.api.mem0.translate import (
    any_of_categories,
    categories_in,
    categories_out,
    memory_out,
    native_filter,
    told_at,
)
from service.errors import InvalidRequest, NotSupported
from service.models import Category, Condition, Memory, Scope


def test_mem0_categories_are_name_description_pairs_or_bare_names() -> None:
    raw: list[dict[str, str] | str] = [
        {"health": "Allergies and illnesses"},
        {"food": "What is eaten", "travel": "Trips"},
        "misc",
    ]

    categories = categories_in(raw)

    assert categories == (
        Category("health", "Allergies and illnesses"),
        Category("food", "What is eaten"),
        Category("travel", "Trips"),
        Category("misc", ""),
    )
    assert categories_out(categories) == [
        {"health": "Allergies and illnesses"},
        {"food": "What is eaten"},
        {"travel": "Trips"},
        {"misc": ""},
    ]
    assert categories_in(None) == ()


def test_an_empty_mem0_category_is_refused_by_position() -> None:
    with pytest.raises(InvalidRequest, match=r"custom_categories\[1\] is empty"):
        categories_in([{"a": "b"}, {}])


@pytest.mark.parametrize(
    ("timestamp", "moment"),
    [
        (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (1_700_000_000.5, datetime(2023, 11, 14, 22, 13, 20, 500_000, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (-86_400, datetime(1969, 12, 31, tzinfo=UTC)),
    ],
)
def test_an_add_timestamp_is_unix_seconds_in_utc(timestamp: float, moment: datetime) -> None:
    assert told_at(timestamp) == moment


@pytest.mark.parametrize("timestamp", [10**20, -(10**20), 253_402_300_800, -31_000_000_000])
def test_an_add_timestamp_outside_the_range_of_stored_times_is_a_422(timestamp: int) -> None:
    with pytest.raises(InvalidRequest, match="timestamp must lie between"):
        told_at(timestamp)


def test_no_timestamp_is_now() -> None:
    assert told_at(None) is None


@pytest.mark.parametrize(
    ("raw", "condition"),
    [
        ({"categories": {"contains": "food"}}, Condition("categories", "contains", "food", True)),
        ({"categories": {"in": ["a", "b"]}}, Condition("categories", "in", ["a", "b"], True)),
        ({"categories": "food"}, Condition("categories", "eq", "food", True)),
        (
            {"timestamp": {"gte": 1_700_000_000}},
            Condition("created_at", "gte", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), True),
        ),
    ],
)
def test_categories_and_timestamp_filters_are_native_conditions(
    raw: dict[str, Any], condition: Condition
) -> None:
    assert native_filter(raw, []) == condition


def test_the_categories_option_asks_for_any_of_them() -> None:
    assert any_of_categories(None) == any_of_categories([]) == []
    assert native_filter({"user_id": "a"}, any_of_categories(["x", "y"])) is not None
    assert any_of_categories(["x", "y"]) == [{"categories": {"in": ["x", "y"]}}]


def test_icontains_on_categories_still_answers_501() -> None:
    with pytest.raises(NotSupported, match="icontains"):
        native_filter({"categories": {"icontains": "Food"}}, [])


def test_a_memory_shows_its_categories_in_mem0s_shape() -> None:
    now = datetime(2026, 3, 10, tzinfo=UTC)
    memory = Memory(uuid.uuid4(), "x", Scope("a"), {}, now, now, None, ("food", "health"))

    assert memory_out(memory).categories == ["food", "health"]
