"""Filters compiled to SQL: every value is a parameter, every parameter is used, and Postgres
evaluates every condition the parser accepts over rows of every kind of metadata.

The conditions run on a real Postgres (with the service's codecs) against a fixed set of rows
given as VALUES, so that each condition meets arrays, objects, nulls, numbers, strings and
missing keys without any table being arranged.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from service.domain.filters import parse_filter
from service.errors import InvalidFilter
from service.storage.database import Database
from service.storage.filter_sql import SqlParameters, filter_condition
from tests.filter_strategies import Filter, near_misses, well_formed

ROWS: list[tuple[Any, ...]] = [
    # metadata, user_id, agent_id, run_id, created_at (= updated_at), categories
    ({"category": "health", "tags": ["food", "a"], "priority": 3}, "fp", None, None, 2023, []),
    ({"category": [1, [2]], "tags": [], "nested": {"a": 1}}, "fp", "coach", "r1", 1500, ["food"]),
    (
        {"category": None, "priority": "2", "active": True, "score": 1e300},
        "fp",
        None,
        "r2",
        1000,
        ["health", "food"],
    ),
    ({"tags": "a", "note": "ünïcödé ✓", "score": 10**30}, "other", "coach", None, 8999, ["Food"]),
    ({}, "fp", None, None, 2026, []),
]
Run = Callable[[Filter], int]


def _compiled(raw: Any, params: SqlParameters) -> str:
    return filter_condition(parse_filter(raw), params)


@pytest.fixture(scope="module")
def matching(migrated_dsn: str) -> Iterator[Run]:
    """How many of ROWS a filter matches, evaluated by Postgres."""
    loop = asyncio.new_event_loop()
    database = Database(migrated_dsn, min_size=1, max_size=1, timeout_s=10)
    loop.run_until_complete(database.open())

    async def count(raw: Filter) -> int:
        params = SqlParameters()
        rows = ", ".join(
            "(" + ", ".join(f"{params.add(v)}::{t}" for v, t in zip(row, TYPES, strict=True)) + ")"
            for row in (
                (meta, user, agent, run, datetime(year, 6, 1, tzinfo=UTC), categories)
                for meta, user, agent, run, year, categories in ROWS
            )
        )
        where = _compiled(raw, params)
        async with database.connection(uuid.uuid4()) as connection:
            found: int = await connection.fetchval(
                f"WITH memories (metadata, user_id, agent_id, run_id, created_at, categories) AS "
                f"(VALUES {rows}), with_updates AS (SELECT *, created_at AS updated_at "
                f"FROM memories) SELECT count(*) FROM with_updates WHERE {where}",
                *params.values,
            )
        return found

    yield lambda raw: loop.run_until_complete(count(raw))
    loop.run_until_complete(database.close())
    loop.close()


TYPES = ("jsonb", "text", "text", "text", "timestamptz", "text[]")
PROPERTY = settings(
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(raw=well_formed)
def test_every_parameter_is_used_and_none_is_left_over(raw: Filter) -> None:
    params = SqlParameters("tenant")

    sql = _compiled(raw, params)

    used = {int(number) for number in re.findall(r"\$(\d+)", sql)}
    assert used == set(range(2, len(params.values) + 1)), (raw, sql)


@PROPERTY
@given(raw=well_formed)
def test_postgres_evaluates_every_well_formed_filter(matching: Run, raw: Filter) -> None:
    assert 0 <= matching(raw) <= len(ROWS)


@PROPERTY
@given(raw=near_misses)
def test_a_near_miss_is_refused_by_the_parser_or_evaluated_by_postgres(
    matching: Run, raw: Any
) -> None:
    try:
        parse_filter(raw)
    except InvalidFilter:
        return
    assert 0 <= matching(raw) <= len(ROWS)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"tags": []}, 1),
        ({"tags": ["food", "a"]}, 1),
        ({"tags": ["a"]}, 0),  # the whole array, not an element of it
        ({"tags": {"ne": []}}, 4),  # a missing key is "not equal"
        ({"category": [1, [2]]}, 1),
        ({"category": {"ne": [1, [2]]}}, 4),
        ({"nested": {"eq": {"a": 1}}}, 1),
        ({"nested": {"eq": {}}}, 0),  # not contained: equal
        ({"category": None}, 1),
        ({"tags": {"contains": "a"}}, 2),  # an element of an array, a substring of a string
        ({"score": {"gt": 1e29}}, 2),
        ({"priority": {"gt": 2}}, 1),  # the string "2" is no number
        ({"user_id": {"in": ["fp"]}, "agent_id": {"nin": ["coach"]}}, 3),
        ({"created_at": {"gte": "1500-01-01T00:00:00Z", "lt": "2024-01-01T00:00:00Z"}}, 2),
        ({"NOT": {"user_id": "fp"}}, 1),
        ({"categories": {"contains": "food"}}, 2),  # an element, compared exactly
        ({"categories": "food"}, 2),
        ({"categories": {"ne": "food"}}, 3),
        ({"categories": {"in": ["health", "Food"]}}, 2),
        ({"categories": {"nin": ["food", "Food"]}}, 2),
        ({"metadata.categories": {"contains": "food"}}, 0),  # a metadata key of that name
    ],
)
def test_what_conditions_mean(matching: Run, raw: Filter, expected: int) -> None:
    assert matching(raw) == expected
