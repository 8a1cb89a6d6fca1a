"""Calendar dates a search query names, as the time ranges they cover.

"What did Gina find for her store on 1 February, 2023?" is about what was told that day, and
"in July 2023" about that month: memories told then (their ``created_at``) are what the
question is after. Only explicit dates with a year are read (day month year, month day year,
ISO 8601, month year, and a year after "in", "during" or "throughout"); "last week" or "in
May" are left alone, as they would need a reference date the query does not give. Days are
UTC days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service.models import EARLIEST_TIME, LATEST_TIME, AllOf, AnyOf, Condition, FilterNode

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
# A month's name or its first three letters, e.g. "Feb." or "February" ("Sept" too).
_MONTH = "(?P<month>sept|" + "|".join(f"{name[:3]}(?:{name[3:]})?" for name in _MONTHS) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_BEFORE_YEAR = r"(?:,\s*|\s+)"  # "May 8 2023", "May 8, 2023", "May 8,2023"
_PATTERNS = (
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}{_BEFORE_YEAR}{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\s+{_DAY}{_BEFORE_YEAR}{_YEAR}\b", re.IGNORECASE),
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b"),
    re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
    # A bare number is a year only after words that say so: "in 2023", not "order 2023".
    re.compile(r"\b(?:in|during|throughout)\s+(?P<year>(?:19|20)\d{2})\b", re.IGNORECASE),
)


# A question names a date or two. Past this many, the rest are left in the text: reading
# thousands (a 100 KB query of dates) took seconds and made a filter of as many ranges.
MAX_DATES_READ = 10


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``start <= t < end``."""

    start: datetime
    end: datetime

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def dates_named_in(query: str) -> list[TimeRange]:
    """The days and months ``query`` names, each once."""
    return _read(query)[0]


def without_dates(query: str) -> str:
    """``query`` with the dates it names cut out: what it asks about.

    Memories rarely spell out the day they were told, so a date in the query only blurs how
    close it is in meaning to them; the date is matched on ``created_at`` instead.
    """
    kept, last = [], 0
    for start, end in sorted(_read(query)[1]):
        kept.append(query[last:start])
        last = end
    kept.append(query[last:])
    return " ".join("".join(kept).split())


def _read(query: str) -> tuple[list[TimeRange], list[tuple[int, int]]]:
    ranges: list[TimeRange] = []
    taken: list[tuple[int, int]] = []  # spans of the query already read as a date
    for pattern in _PATTERNS:
        for match in pattern.finditer(query):
            if len(taken) >= MAX_DATES_READ:
                return ranges, taken
            if any(start < match.end() and match.start() < end for start, end in taken):
                continue  # "May 2023" inside "8 May, 2023" is the same date
            taken.append(match.span())
            found = _time_range(match)
            if found is not None and found not in ranges:
                ranges.append(found)
    return ranges, taken


def _time_range(match: re.Match[str]) -> TimeRange | None:
    """The range a date covers; ``None`` for a date that is not one (31 February, month 13)
    or lies outside the range of stored times (no memory was told then)."""
    try:
        found = _covered(match.groupdict())
    except (ValueError, OverflowError):  # not a date, or past the last year Python has
        return None
    if found.start < EARLIEST_TIME or found.end > LATEST_TIME:
        return None
    return found


def _covered(parts: dict[str, Any]) -> TimeRange:
    year = int(parts["year"])
    month_text = (parts.get("month") or "").lower().rstrip(".")
    if not month_text:
        return TimeRange(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
    month = (
        int(month_text)
        if month_text.isdigit()
        else next(n for n, name in enumerate(_MONTHS, 1) if name.startswith(month_text))
    )
    if parts.get("day") is None:
        start = datetime(year, month, 1, tzinfo=UTC)
        return TimeRange(start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC))
    start = datetime(year, month, int(parts["day"]), tzinfo=UTC)
    return TimeRange(start, start + timedelta(days=1))


def created_within(ranges: list[TimeRange], filters: FilterNode | None) -> FilterNode:
    """``filters``, narrowed to memories told within one of ``ranges``."""
    within = AnyOf(
        tuple(
            AllOf(
                (
                    Condition("created_at", "gte", time_range.start, is_builtin=True),
                    Condition("created_at", "lt", time_range.end, is_builtin=True),
                )
            )
            for time_range in ranges
        )
    )
    return within if filters is None else AllOf((filters, within))
