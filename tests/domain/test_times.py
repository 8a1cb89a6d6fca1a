"""The range of stored times, and the Mem0 dialect's readings of times, on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.api.mem0.translate import expiry_of, native_filter, time_range
from service.domain.times import TIME_RANGE, check_storable, is_storable
from service.errors import InvalidRequest
from service.models import EARLIEST_TIME, LATEST_TIME, Condition, FilterNode, Negation

# asyncpg writes these two instants as -infinity and infinity.
INFINITIES = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
zones = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-23 * 60 - 59, 23 * 60 + 59)
)


def test_the_range_is_said_once_in_words() -> None:
    assert TIME_RANGE == (
        "between 1000-01-01T00:00:00Z (inclusive) and 9000-01-01T00:00:00Z (exclusive)"
    )


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), "created_at must lie between 1000-01-01"),
        (datetime(999, 12, 31, 23, 59, tzinfo=UTC), "created_at must lie between"),
        (LATEST_TIME, "created_at must lie between"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "created_at must lie between"),
        (datetime(2023, 1, 1), "created_at needs a timezone"),
    ],
)
def test_a_time_outside_the_range_or_without_a_timezone_is_refused(
    moment: datetime, message: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_storable("created_at", moment)

    assert message in refused.value.detail


def test_the_first_instant_and_the_last_before_the_end_are_kept() -> None:
    check_storable("created_at", EARLIEST_TIME)
    check_storable("created_at", LATEST_TIME - timedelta(microseconds=1))
    check_storable("created_at", None)
    # 0999-12-31T23:00 at -02:00 is 1000-01-01T01:00Z: inside.
    check_storable("created_at", datetime(999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2))))


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(timezones=zones))
def test_every_time_kept_is_a_finite_instant_postgres_can_hold(moment: datetime) -> None:
    try:
        check_storable("created_at", moment)
    except InvalidRequest:
        assert not is_storable(moment)
        return
    in_utc = moment.astimezone(UTC)  # what asyncpg sends: must not overflow
    assert in_utc not in INFINITIES
    assert EARLIEST_TIME <= in_utc < LATEST_TIME


dates = st.builds(
    lambda year, month, day: f"{year:04d}-{month:02d}-{day:02d}",
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
)
unix_seconds = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=True),
    st.sampled_from([1e20, -1e20, 10**30, 253402300800, -62135596800]),
)


@settings(max_examples=300, deadline=None)
@given(expiration_date=st.one_of(dates, dates.map(lambda day: f"{day}T12:00:00Z")))
def test_a_mem0_expiration_date_is_a_storable_time_or_a_422(expiration_date: str) -> None:
    try:
        expiry = expiry_of(expiration_date)
    except InvalidRequest as refused:
        assert "expiration_date" in refused.detail
        return
    assert expiry is not None
    assert is_storable(expiry)


def _times(node: FilterNode | None) -> list[Any]:
    if node is None:
        return []
    if isinstance(node, Condition):
        return [node.value]
    if isinstance(node, Negation):
        return _times(node.item)
    return [value for item in node.items for value in _times(item)]


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(unix_seconds, dates, st.booleans(), st.none()))
def test_a_mem0_time_filter_holds_storable_times_or_is_a_422(value: Any) -> None:
    try:
        node = native_filter({"created_at": {"gte": value}}, time_range(None, None))
    except InvalidRequest as refused:
        assert "created_at" in refused.detail
        return
    [moment] = _times(node)
    assert is_storable(moment)


@pytest.mark.parametrize(
    ("start", "end"), [("0001-01-01", None), (None, "9999-12-31"), ("2026-02-30", None)]
)
def test_mem0_start_and_end_dates_outside_the_range_are_refused_by_name(
    start: str | None, end: str | None
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        time_range(start, end)

    assert ("start_date" if start else "end_date") in refused.value.detail
