"""The dates a search query names, on plain strings."""

from __future__ import annotations

from datetime import date

import pytest

from service.domain.query_dates import dates_named_in, without_dates


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
