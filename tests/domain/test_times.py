"""The range of stored times, on plain values (the Mem0 dialect's readings of times:
tests/api/mem0/test_translate.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.times import TIME_RANGE, check_storable, is_storable
from service.errors import InvalidRequest
from service.models import EARLIEST_TIME, LATEST_TIME

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
