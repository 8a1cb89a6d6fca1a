"""Chat turns as jobs store them (JSON), read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from service.domain.prompting import Turn


def test_a_turn_reads_back_as_it_was_written() -> None:
    lisbon_summer = timezone(timedelta(hours=1))
    turn = Turn("user", "I moved", "ana", datetime(2023, 5, 8, 10, tzinfo=lisbon_summer))

    assert Turn.from_json(turn.to_json()) == turn


def test_a_time_without_timezone_from_an_older_job_is_read_as_utc() -> None:
    raw = {"role": "user", "content": "I moved", "name": None, "time": "2023-05-08T10:00:00"}

    assert Turn.from_json(raw).timestamp == datetime(2023, 5, 8, 10, tzinfo=UTC)
