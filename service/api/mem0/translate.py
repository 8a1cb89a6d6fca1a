"""Between the Mem0 dialect and the domain: filters, scopes, refusals and answer shapes.

Mem0 filters mostly are the native filter language already (``AND`` / ``OR`` groups,
``{field: {op: value}}``). The differences handled here: ``{"metadata": {...}}`` groups
metadata conditions, ``NOT`` takes a list, dates may come without a time or timezone (read as
UTC), and ``timestamp`` (the time an add was told at) is ``created_at``. The ``*`` wildcard,
``icontains`` and fields this service does not keep (app_id, keywords) answer 501.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from service.domain.adding import AddResult, Job
from service.domain.filters import parse_filter
from service.domain.times import check_storable, out_of_range
from service.errors import InvalidFilter, InvalidRequest, NotSupported
from service.models import (
    LATEST_TIME,
    SCOPE_FIELDS,
    Category,
    FilterNode,
    HistoryEvent,
    Memory,
    Scope,
    SearchHit,
)

from .schemas import (
    Mem0AddResponse,
    Mem0AddResult,
    Mem0Categories,
    Mem0HistoryEntry,
    Mem0Memory,
    Mem0Queued,
)

_UNSUPPORTED_FILTER_FIELDS = {
    "app_id": "app_id scoping (use agent_id, or a metadata key)",
    "keywords": "keyword filters (search is hybrid: the query's words count already)",
    "expiration_date": "filtering on expiry",
}
_TIME_FIELDS = ("created_at", "updated_at")
# An add's ``timestamp`` sets when its memories were told: their created_at.
_TIME_ALIASES = {"timestamp": "created_at"}
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def refuse_unsupported(body: Any, features: dict[str, str]) -> None:
    """501 for the first option given a value that this service cannot honour."""
    for field, feature in features.items():
        if getattr(body, field) not in (None, False, [], {}, ""):
            raise NotSupported(f"'{field}' ({feature}) is not supported by this service")


def native_filter(raw: dict[str, Any] | None, extra: list[dict[str, Any]]) -> FilterNode | None:
    """Mem0 ``filters`` plus ``extra`` native conditions, all of which must hold."""
    parts = [_node(raw)] if raw else []
    parts.extend(extra)
    if not parts:
        return None
    return parse_filter(parts[0] if len(parts) == 1 else {"AND": parts})


def scope_of(ids: Scope, filters: dict[str, Any] | None) -> Scope:
    """The ids the request is limited to: top-level ids, or equalities every match must meet.

    Only narrows where the search looks (exact ranking over one user's rows); the filter
    itself is still applied in full.
    """
    found = dict(ids.items())
    conjuncts = [filters] if filters else []
    if filters and isinstance(filters.get("AND"), list):
        conjuncts.extend(item for item in filters["AND"] if isinstance(item, dict))
    for conjunct in conjuncts:
        for field in SCOPE_FIELDS:
            value = conjunct.get(field)
            if isinstance(value, dict) and list(value) == ["eq"]:
                value = value["eq"]
            if isinstance(value, str) and value != "*":
                found.setdefault(field, value)
    return Scope(**found)


def time_range(start: str | None, end: str | None) -> list[dict[str, Any]]:
    """get_all's start_date / end_date as native created_at conditions."""
    bounds = {}
    if start:
        bounds["gte"] = _timestamp("start_date", start)
    if end:
        bounds["lte"] = _timestamp("end_date", end)
    return [{"created_at": bounds}] if bounds else []


def metadata_equalities(metadata: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{f"metadata.{key}": value} for key, value in (metadata or {}).items()]


def any_of_categories(categories: list[str] | None) -> list[dict[str, Any]]:
    """The ``categories`` option of search and get_all: memories with any of them."""
    return [{"categories": {"in": categories}}] if categories else []


def categories_in(raw: Mem0Categories | None) -> tuple[Category, ...]:
    """Mem0's ``[{"name": "description"}, ...]`` (a bare name has no description)."""
    found: list[Category] = []
    for index, item in enumerate(raw or []):
        if isinstance(item, str):
            found.append(Category(item))
            continue
        if not item:
            raise InvalidRequest(
                f'custom_categories[{index}] is empty: give {{"name": "description"}}'
            )
        found.extend(Category(name, description) for name, description in item.items())
    return tuple(found)


def categories_out(categories: tuple[Category, ...]) -> list[dict[str, str]]:
    return [{category.name: category.description} for category in categories]


def told_at(timestamp: float | None) -> datetime | None:
    """An add's ``timestamp`` (Unix seconds) as the time its memories were told."""
    if timestamp is None:
        return None
    try:
        moment = datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, ValueError, OSError):  # beyond the years Python has
        raise InvalidRequest(out_of_range("timestamp", f"{timestamp} Unix seconds")) from None
    check_storable("timestamp", moment)
    return moment


def _node(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw:
        raise InvalidFilter('a filter is a non-empty JSON object, e.g. {"user_id": "alice"}')
    items: list[dict[str, Any]] = []
    for key, value in raw.items():
        if key in ("AND", "OR"):
            if not isinstance(value, list) or not value:
                raise InvalidFilter(f"{key} takes a non-empty list of filters")
            items.append({key: [_node(item) for item in value]})
        elif key == "NOT":
            negated = [_node(item) for item in (value if isinstance(value, list) else [value])]
            if not negated:
                raise InvalidFilter("NOT takes a filter or a non-empty list of filters")
            # NOT [a, b] matches what matches none of them.
            items.append({"NOT": negated[0] if len(negated) == 1 else {"OR": negated}})
        elif key == "metadata":
            if not isinstance(value, dict) or not value:
                raise InvalidFilter("'metadata' takes an object of {key: condition}")
            items.extend({f"metadata.{k}": _operand(k, v)} for k, v in value.items())
        elif key in _UNSUPPORTED_FILTER_FIELDS:
            raise NotSupported(
                f"filtering on {key!r} ({_UNSUPPORTED_FILTER_FIELDS[key]}) is not supported"
            )
        elif key in _TIME_FIELDS or key in _TIME_ALIASES:
            field = _TIME_ALIASES.get(str(key), str(key))  # JSON keys are strings
            items.append({field: _time_operand(key, value)})
        else:
            items.append({key: _operand(key, value)})
    return items[0] if len(items) == 1 else {"AND": items}


def _operand(field: str, value: Any) -> Any:
    if value == "*":
        raise NotSupported(
            f"the '*' wildcard (on {field!r}) is not supported; leave the condition out"
        )
    if isinstance(value, dict) and "icontains" in value:
        raise NotSupported(
            f"the 'icontains' operator (on {field!r}) is not supported; 'contains' is "
            "case-sensitive"
        )
    return value


def _time_operand(field: str, value: Any) -> Any:
    if isinstance(value, dict):
        return {op: _timestamp(field, operand) for op, operand in value.items()}
    return _timestamp(field, value)


def _timestamp(field: str, value: Any) -> str:
    """ISO 8601 with a timezone, within the range of stored times; dates and naive times are
    UTC, numbers are Unix seconds."""
    moment = _moment(field, value)
    check_storable(field, moment, InvalidFilter)
    return moment.isoformat()


def _moment(field: str, value: Any) -> datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, ValueError, OSError):  # beyond the years Python has
            raise InvalidFilter(out_of_range(field, f"{value} Unix seconds")) from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise InvalidFilter(f"{field!r} takes a date (2026-01-31), an ISO 8601 time or Unix seconds")


# --- answers --------------------------------------------------------------------------------


def expiry_of(expiration_date: str | None) -> datetime | None:
    """Mem0's ``expiration_date``: a memory is kept through that (UTC) day."""
    if expiration_date is None:
        return None
    if not _DATE_ONLY.match(expiration_date):
        expiry = datetime.fromisoformat(_timestamp("expiration_date", expiration_date))
    else:
        try:
            day = datetime.fromisoformat(expiration_date).replace(tzinfo=UTC)
        except ValueError:  # 2026-02-30
            raise InvalidRequest(
                f"expiration_date {expiration_date!r} is not a date; give one such as 2026-01-31"
            ) from None
        if day >= LATEST_TIME - timedelta(days=1):  # the memory is kept through that day
            raise InvalidRequest(out_of_range("expiration_date", expiration_date))
        expiry = day + timedelta(days=1)
    check_storable("expiration_date", expiry)
    return expiry


def _expiration_date(expires_at: datetime | None) -> str | None:
    if expires_at is None:
        return None
    return (expires_at.astimezone(UTC) - timedelta(microseconds=1)).date().isoformat()


def memory_out(memory: Memory, score: float | None = None) -> Mem0Memory:
    return Mem0Memory(
        id=memory.id,
        memory=memory.text,
        user_id=memory.scope.user_id,
        agent_id=memory.scope.agent_id,
        run_id=memory.scope.run_id,
        metadata=memory.metadata,
        created_at=memory.created_at,
        updated_at=memory.updated_at,
        expiration_date=_expiration_date(memory.expires_at),
        score=score,
        categories=list(memory.categories),
    )


def hit_out(hit: SearchHit) -> Mem0Memory:
    return memory_out(hit.memory, round(hit.similarity, 6))


def add_out(outcome: AddResult | Job) -> Mem0AddResponse:
    if isinstance(outcome, Job):
        reason = f" ({outcome.last_error})" if outcome.last_error else ""
        if outcome.status == "failed":
            return Mem0AddResponse(
                [Mem0Queued(f"Memory processing failed{reason}", "FAILED", outcome.id)]
            )
        return Mem0AddResponse(
            [
                Mem0Queued(
                    message=f"Memory processing has been queued for background execution{reason}",
                    status="PENDING",
                    event_id=outcome.id,
                )
            ]
        )
    return Mem0AddResponse(
        [
            Mem0AddResult(
                id=fact.memory.id,
                event=fact.event,
                memory=fact.memory.text,
                user_id=fact.memory.scope.user_id,
                agent_id=fact.memory.scope.agent_id,
                run_id=fact.memory.scope.run_id,
                metadata=fact.memory.metadata,
                previous_memory=fact.previous_text,
                categories=list(fact.memory.categories),
            )
            for fact in outcome.outcomes
        ]
    )


def history_out(event: HistoryEvent) -> Mem0HistoryEntry:
    return Mem0HistoryEntry(
        id=str(event.id),
        memory_id=event.memory_id,
        event=event.event,
        old_memory=event.old_text,
        new_memory=event.new_text,
        metadata=event.new_metadata if event.new_metadata is not None else event.old_metadata,
        actor=event.actor,
        created_at=event.created_at,
        updated_at=event.created_at,
    )
