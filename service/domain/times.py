"""The one range every stored time lies in, and the check every time coming in passes.

Postgres keeps times from 4713 BC to 294276 AD and Python's from year 1 to 9999, and asyncpg
turns the first and last instants Python has into ``-infinity`` and ``infinity``, which it
reads back without a timezone. A time outside ``[EARLIEST_TIME, LATEST_TIME)`` (see
``service.models``) is therefore refused where it enters the domain (adds, batches, updates,
imports, filters), whichever dialect it came through, with an error naming the field and the
range; no sensible memory was told before the year 1000 or expires after 9000.
"""

from __future__ import annotations

from datetime import datetime

from service.errors import InvalidRequest
from service.models import EARLIEST_TIME, LATEST_TIME


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


TIME_RANGE = f"between {_iso(EARLIEST_TIME)} (inclusive) and {_iso(LATEST_TIME)} (exclusive)"


def is_storable(moment: datetime) -> bool:
    """Whether ``moment`` has a timezone and lies in the range."""
    return moment.utcoffset() is not None and EARLIEST_TIME <= moment < LATEST_TIME


def out_of_range(field: str, value: str) -> str:
    """The error message for a ``value`` of ``field`` outside the range."""
    return f"{field} must lie {TIME_RANGE}; {value} does not"


def check_storable(
    field: str, moment: datetime | None, error: type[InvalidRequest] = InvalidRequest
) -> None:
    """Raise ``error`` naming ``field`` unless ``moment`` (if given) is aware and in range."""
    if moment is None:
        return
    if moment.utcoffset() is None:
        raise error(f"{field} needs a timezone, e.g. 2026-01-31T12:00:00Z")
    if not is_storable(moment):
        raise error(out_of_range(field, moment.isoformat()))
