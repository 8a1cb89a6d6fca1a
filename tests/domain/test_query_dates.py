"""The dates a search query names, on plain strings."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.query_dates import dates_named_in, without_dates
from service.models import EARLIEST_TIME, LATEST_TIME


def days(query: str) -> list[tuple[date, date]]:
    return [(found.start.date(), found.end.date()) for found in dates_named_in(query)]


@pytest.mark.parametrize(
    "query",
    [
        "What did Gina find for her store on 1 February, 2023?",
        "What did Gina find on February 1, 2023?",
        "What did Gina find on February 1,2023?",
        "what did gina find on feb. 1st 2023",
        "What did Gina find on the 1st of February 2023?",
        "What did Gina find on 2023-02-01?",
    ],
)
def test_a_day_is_read_in_the_ways_people_write_it(query: str) -> None:
    assert days(query) == [(date(2023, 2, 1), date(2023, 2, 2))]


def test_a_month_covers_the_month_and_several_dates_are_each_read_once() -> None:
    query = "Did she paint in December 2023, on 8 May, 2023 or again on May 8, 2023?"

    assert days(query) == [
        (date(2023, 5, 8), date(2023, 5, 9)),
        (date(2023, 12, 1), date(2024, 1, 1)),
    ]


def test_a_year_is_read_where_the_words_say_it_is_one() -> None:
    query = "Which career-high performances did John achieve in 2023?"

    assert days(query) == [(date(2023, 1, 1), date(2024, 1, 1))]
    assert without_dates(query) == "Which career-high performances did John achieve ?"
    assert days("What happened during 2024 and in May 2023?") == [
        (date(2023, 5, 1), date(2023, 6, 1)),
        (date(2024, 1, 1), date(2025, 1, 1)),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "What did she do last week?",
        "Is order 2023 shipped?",  # a number, not a year
        "She ran 2023 meters in 2 hours",
        "What did she do in May?",  # no year: which May is not said
        "You may 2 times ask",
        "What happened on 31 February, 2023?",  # not a day, and not read as the month either
        "Order 12345 shipped",
    ],
)
def test_no_date_is_made_up(query: str) -> None:
    assert days(query) == []


@pytest.mark.parametrize(
    "query",
    [
        "What happened on 9999-12-31?",
        "What happened on December 31, 9999?",
        "What happened on 31 December, 9999?",
        "Anything in December 9999?",
        "What happened on 0001-01-01?",
        "What happened on 0999-12-31?",
        "What happened on 2026-02-30 or on 2026-13-01?",
        "What happened on February 30, 2026?",
    ],
)
def test_an_impossible_or_out_of_range_date_is_no_date(query: str) -> None:
    assert days(query) == []


def test_the_edges_of_the_range_of_stored_times_are_dates() -> None:
    assert days("on 1000-01-01 or 8999-12-31, in December 8999") == [
        (date(1000, 1, 1), date(1000, 1, 2)),
        (date(8999, 12, 31), date(9000, 1, 1)),
        (date(8999, 12, 1), date(9000, 1, 1)),
    ]


_MONTH_NAMES = ["January", "Feb.", "sept", "December", "Decembr", "May"]
_DATES = st.builds(
    lambda form, year, month, day, name: form.format(y=year, m=month, d=day, n=name),
    st.sampled_from(
        ["{y:04d}-{m:02d}-{d:02d}", "{n} {d}, {y:04d}", "{d} {n} {y:04d}", "in {n} {y:04d}"]
    ),
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from(_MONTH_NAMES),
)


@settings(max_examples=300, deadline=None)
@given(query=st.one_of(_DATES.map(lambda found: f"What happened on {found}?"), st.text()))
def test_whatever_a_query_says_its_dates_lie_in_the_range_of_stored_times(query: str) -> None:
    for found in dates_named_in(query):
        assert EARLIEST_TIME <= found.start < found.end <= LATEST_TIME
    without_dates(query)
