"""The dates a search query names, on plain strings."""

from __future__ import annotations

from datetime import date

import pytest

from service.domain.query_dates import dates_named_in


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


@pytest.mark.parametrize(
    "query",
    [
        "What did she do last week?",
        "What did she do in May?",  # no year: which May is not said
        "You may 2 times ask",
        "What happened on 31 February, 2023?",  # not a day, and not read as the month either
        "Order 12345 shipped",
    ],
)
def test_no_date_is_made_up(query: str) -> None:
    assert days(query) == []
