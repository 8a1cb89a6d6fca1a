"""The Mem0 dialect's translation on plain values: its filters and dates into the domain's,
the request's options and scope, and the domain's answers into Mem0's shapes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.api.mem0.schemas import Mem0AddResult, Mem0Queued
from service.api.mem0.translate import (
    add_out,
    expiry_of,
    history_out,
    hit_out,
    memory_out,
    metadata_equalities,
    native_filter,
    refuse_unsupported,
    scope_of,
    time_range,
)
from service.domain.adding import AddResult, Job
from service.domain.filters import parse_filter
from service.domain.times import is_storable
from service.errors import InvalidFilter, InvalidRequest, NotSupported
from service.models import (
    AddOutcome,
    AllOf,
    AnyOf,
    Condition,
    FilterNode,
    HistoryEvent,
    Memory,
    Negation,
    Scope,
    SearchHit,
)
from service.storage.jobs import JobSpend
from tests.filter_strategies import Filter, to_mem0, well_formed

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
NO_SPEND = JobSpend(0, 0, 0)


def _conjuncts(node: FilterNode | None) -> list[FilterNode]:
    """The conditions and groups that must all hold, with nested ANDs flattened."""
    if node is None:
        return []
    if isinstance(node, AllOf):
        return [found for item in node.items for found in _conjuncts(item)]
    return [node]


def _canonical(node: FilterNode) -> str:
    """One spelling per meaning, up to the order of ANDed and ORed parts; times in UTC."""
    if isinstance(node, Condition):
        value = node.value
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        return repr((node.field, node.operator, value, node.is_builtin))
    if isinstance(node, Negation):
        return f"NOT({_canonical(node.item)})"
    if isinstance(node, AnyOf):
        return f"OR({sorted(_canonical(item) for item in node.items)})"
    return f"AND({sorted(_canonical(item) for item in _conjuncts(node))})"


# --- filters --------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(raw=well_formed, data=st.data())
def test_a_mem0_filter_means_what_the_native_filter_it_spells_means(
    raw: Filter, data: st.DataObject
) -> None:
    mem0 = to_mem0(raw, data.draw)
    native = parse_filter(raw)
    assert native is not None

    assert _canonical(native_filter(mem0, []) or AllOf(())) == _canonical(native)


@settings(max_examples=100, deadline=None)
@given(raw=well_formed, data=st.data(), tag=st.sampled_from(["food", "music"]))
def test_extra_conditions_are_added_to_what_the_filter_asks(
    raw: Filter, data: st.DataObject, tag: str
) -> None:
    extra = [*metadata_equalities({"category": tag}), *time_range("2023-01-01", None)]

    translated = native_filter(to_mem0(raw, data.draw), extra)
    alone = native_filter(to_mem0(raw, data.draw), [])

    assert translated is not None and alone is not None
    assert sorted(map(_canonical, _conjuncts(translated))) == sorted(
        map(_canonical, [*_conjuncts(alone), *_conjuncts(parse_filter({"AND": extra}))])
    )


def test_no_filter_and_no_extra_conditions_is_no_filter() -> None:
    assert native_filter(None, []) is None
    assert native_filter({}, []) is None
    assert native_filter(None, [{"user_id": "alice"}]) == Condition("user_id", "eq", "alice", True)


def test_metadata_groups_its_keys_and_not_takes_a_list() -> None:
    node = native_filter(
        {"metadata": {"food": "pizza", "stars": {"gte": 4}}, "NOT": [{"user_id": "a"}, {"b": 1}]},
        [],
    )

    assert node == AllOf(
        (
            Condition("food", "eq", "pizza", False),
            Condition("stars", "gte", 4, False),
            Negation(
                AnyOf((Condition("user_id", "eq", "a", True), Condition("b", "eq", 1, False)))
            ),
        )
    )


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"app_id": "x"}, "app_id"),
        ({"keywords": "x"}, "keywords"),
        ({"OR": [{"user_id": "a"}, {"expiration_date": {"gt": "2026-01-01"}}]}, "expiry"),
        ({"user_id": "*"}, "wildcard"),
        ({"metadata": {"food": "*"}}, "wildcard"),
        ({"food": {"icontains": "Pizza"}}, "icontains"),
    ],
)
def test_what_this_service_cannot_honour_answers_501_naming_it(raw: Filter, named: str) -> None:
    with pytest.raises(NotSupported) as refused:
        native_filter(raw, [])

    assert named in refused.value.detail


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (["user_id"], "non-empty JSON object"),
        ({"AND": []}, "AND takes a non-empty list"),
        ({"OR": {"user_id": "a"}}, "OR takes a non-empty list"),
        ({"NOT": []}, "NOT takes a filter or a non-empty list"),
        ({"metadata": {}}, "'metadata' takes an object"),
        ({"metadata": ["food"]}, "'metadata' takes an object"),
        ({"created_at": {"gte": "soon"}}, "'created_at' takes a date"),
        ({"updated_at": True}, "'updated_at' takes a date"),
    ],
)
def test_a_malformed_mem0_filter_is_refused_with_a_reason(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidFilter) as refused:
        native_filter(raw, [])

    assert reason in refused.value.detail


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),  # a date: its start, in UTC
        ("2026-01-31T12:00:00", datetime(2026, 1, 31, 12, tzinfo=UTC)),  # naive: UTC
        ("2026-01-31T12:00:00+05:30", datetime(2026, 1, 31, 6, 30, tzinfo=UTC)),
        (1_769_860_800, datetime(2026, 1, 31, 12, tzinfo=UTC)),  # Unix seconds
        (1_769_860_800.5, datetime(2026, 1, 31, 12, 0, 0, 500_000, tzinfo=UTC)),
    ],
)
def test_a_mem0_time_is_read_as_an_instant(value: Any, moment: datetime) -> None:
    node = native_filter({"created_at": {"lt": value}}, [])

    assert isinstance(node, Condition)
    assert node.value == moment


def test_start_and_end_dates_bound_the_creation_time_inclusively() -> None:
    assert time_range(None, None) == []
    assert time_range("2026-01-01", "2026-01-31T23:59:59Z") == [
        {"created_at": {"gte": "2026-01-01T00:00:00+00:00", "lte": "2026-01-31T23:59:59+00:00"}}
    ]


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


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(unix_seconds, dates, st.booleans(), st.none()))
def test_a_mem0_time_filter_holds_storable_times_or_is_a_422(value: Any) -> None:
    try:
        node = native_filter({"created_at": {"gte": value}}, [])
    except InvalidRequest as refused:
        assert "created_at" in refused.detail
        return
    assert isinstance(node, Condition)
    assert isinstance(node.value, datetime)
    assert is_storable(node.value)


@pytest.mark.parametrize(
    ("start", "end"), [("0001-01-01", None), (None, "9999-12-31"), ("2026-02-30", None)]
)
def test_mem0_start_and_end_dates_outside_the_range_are_refused_by_name(
    start: str | None, end: str | None
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        time_range(start, end)

    assert ("start_date" if start else "end_date") in refused.value.detail


def _memory(expires_at: datetime | None = None, **scope: str) -> Memory:
    return Memory(uuid.uuid4(), "Alice likes tea", Scope(**scope), {"k": 1}, NOW, NOW, expires_at)


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=date(1000, 1, 1), max_value=date(8999, 12, 30)))
def test_an_expiration_date_comes_back_as_given(day: date) -> None:
    expiry = expiry_of(day.isoformat())

    assert expiry == datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    assert memory_out(_memory(expiry)).expiration_date == day.isoformat()


zones = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-1439, 1439))


@settings(max_examples=200, deadline=None)
@given(
    expires_at=st.datetimes(
        min_value=datetime(1000, 1, 3), max_value=datetime(8999, 12, 29), timezones=zones
    )
)
def test_the_expiration_date_shown_is_the_last_day_a_memory_is_kept(expires_at: datetime) -> None:
    shown = memory_out(_memory(expires_at)).expiration_date
    assert shown is not None

    # Kept through the day shown: no sooner than it expires, and less than a day later.
    kept_until = expiry_of(shown)
    assert kept_until is not None
    assert expires_at <= kept_until < expires_at + timedelta(days=1)


@pytest.mark.parametrize("day", ["2026-02-30", "2026-13-01"])
def test_an_impossible_expiration_date_is_refused(day: str) -> None:
    with pytest.raises(InvalidRequest, match="is not a date"):
        expiry_of(day)


def test_the_last_expiration_date_before_the_range_ends_is_refused() -> None:
    assert expiry_of(None) is None
    assert expiry_of("8999-12-30") == datetime(8999, 12, 31, tzinfo=UTC)
    with pytest.raises(InvalidRequest, match="expiration_date must lie"):
        expiry_of("8999-12-31")


# --- the request's options and scope --------------------------------------------------------


# What a Mem0 request body stands for here: only the attributes are read.
FEATURES = {"includes": "include lists", "immutable": "immutable memories"}


@pytest.mark.parametrize("empty", [None, False, [], {}, ""])
def test_an_option_left_empty_is_no_request_for_it(empty: Any) -> None:
    refuse_unsupported(SimpleNamespace(includes=empty, immutable=empty), FEATURES)


def test_the_first_option_given_answers_501_naming_it() -> None:
    with pytest.raises(NotSupported) as refused:
        refuse_unsupported(SimpleNamespace(includes=["a"], immutable=True), FEATURES)

    assert refused.value.detail == "'includes' (include lists) is not supported by this service"


def test_metadata_becomes_one_equality_per_key() -> None:
    assert metadata_equalities(None) == []
    assert metadata_equalities({"food": "pizza", "n": [1]}) == [
        {"metadata.food": "pizza"},
        {"metadata.n": [1]},
    ]


def test_the_scope_is_the_top_level_ids_then_the_filters_equalities() -> None:
    filters = {
        "AND": [{"agent_id": {"eq": "coach"}}, {"run_id": {"in": ["r1"]}}],
        "user_id": "bob",
        "run_id": "*",
    }

    assert scope_of(Scope(user_id="alice"), filters) == Scope(user_id="alice", agent_id="coach")
    assert scope_of(Scope(), None) == Scope()
    assert scope_of(Scope(), {"OR": [{"user_id": "a"}]}) == Scope()  # may match others too


@settings(max_examples=100, deadline=None)
@given(raw=well_formed, data=st.data())
def test_the_scope_a_filter_implies_holds_for_every_memory_it_matches(
    raw: Filter, data: st.DataObject
) -> None:
    mem0 = to_mem0(raw, data.draw)
    required = _conjuncts(native_filter(mem0, []))

    # Narrowing the search to these ids loses no match: each is an equality the filter needs.
    for field, value in scope_of(Scope(), mem0).items():
        assert Condition(field, "eq", value, True) in required
    assert scope_of(Scope(user_id="x"), mem0).user_id == "x"  # the request's own ids first


# --- answers in Mem0's shapes ---------------------------------------------------------------


def test_a_memory_and_a_hit_in_mem0s_shape() -> None:
    memory = _memory(datetime(2026, 4, 1, tzinfo=UTC), user_id="alice", run_id="r1")

    shown = hit_out(SearchHit(memory, 0.123456789))

    assert (shown.id, shown.memory, shown.metadata) == (memory.id, memory.text, {"k": 1})
    assert (shown.user_id, shown.agent_id, shown.run_id) == ("alice", None, "r1")
    assert (shown.created_at, shown.updated_at) == (NOW, NOW)
    assert shown.expiration_date == "2026-03-31"  # kept through March 31
    assert shown.score == 0.123457
    assert memory_out(memory).score is None


def test_an_add_lists_each_outcome_and_a_queued_add_names_its_job() -> None:
    kept, changed = _memory(user_id="alice"), _memory(agent_id="coach")
    result = AddResult(
        [AddOutcome("NONE", kept), AddOutcome("UPDATE", changed, "fact", "Alice liked coffee")]
    )

    assert add_out(result).results == [
        Mem0AddResult(kept.id, "NONE", kept.text, "alice", None, None, {"k": 1}, None),
        Mem0AddResult(
            changed.id, "UPDATE", changed.text, None, "coach", None, {"k": 1}, "Alice liked coffee"
        ),
    ]
    job = Job(uuid.uuid4(), "queued", 1, "timeout", None, NOW, NOW, uuid.uuid4(), NO_SPEND)
    [queued] = add_out(job).results
    assert queued == Mem0Queued(
        "Memory processing has been queued for background execution (timeout)", "PENDING", job.id
    )
    [quiet] = add_out(
        Job(job.id, "queued", 0, None, None, NOW, NOW, job.tenant_id, NO_SPEND)
    ).results
    assert isinstance(quiet, Mem0Queued)
    assert quiet.message == "Memory processing has been queued for background execution"
    [failed] = add_out(
        Job(job.id, "failed", 1, "truncated: cut", None, NOW, NOW, job.tenant_id, NO_SPEND)
    ).results
    assert failed == Mem0Queued("Memory processing failed (truncated: cut)", "FAILED", job.id)


def test_a_history_entry_shows_the_metadata_after_the_change_or_else_before() -> None:
    memory_id = uuid.uuid4()

    def entry(old: dict[str, Any] | None, new: dict[str, Any] | None) -> HistoryEvent:
        return HistoryEvent(7, memory_id, "UPDATE", "old", "new", old, new, "llm", NOW)

    shown = history_out(entry({"a": 1}, {"a": 2}))

    assert (shown.id, shown.memory_id, shown.event) == ("7", memory_id, "UPDATE")
    assert (shown.old_memory, shown.new_memory, shown.actor) == ("old", "new", "llm")
    assert (shown.metadata, shown.created_at, shown.updated_at) == ({"a": 2}, NOW, NOW)
    assert history_out(entry({"a": 1}, None)).metadata == {"a": 1}
    assert history_out(entry(None, None)).metadata is None
