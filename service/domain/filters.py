"""Parse the JSON filter language into a safe tree (``service.models`` filter nodes).

Grammar::

    filter    := group | fields
    group     := {"AND": [filter, ...]} | {"OR": [filter, ...]} | {"NOT": filter}
    fields    := {field: value | {operator: value, ...}, ...}   (several entries: AND;
                 an object value is always an operator map)
    operator  := eq | ne | gt | gte | lt | lte | in | nin | contains

``field`` is a built-in (user_id, agent_id, run_id, created_at, updated_at, categories) or a
metadata key; ``metadata.<key>`` names a metadata key explicitly. ``categories`` is the list
of a memory's categories: ``eq`` / ``contains`` a name (it has it), ``ne`` (it has not), ``in``
/ ``nin`` a list of names (it has one of them / none). Every rejection says what was wrong.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, cast, get_args

from service.domain.texts import unstorable_character
from service.domain.times import TIME_RANGE, check_storable
from service.errors import InvalidFilter
from service.models import (
    BUILTIN_FILTER_FIELDS,
    AllOf,
    AnyOf,
    Condition,
    FilterNode,
    Negation,
    Operator,
)

MAX_DEPTH = 6
MAX_CONDITIONS = 64
MAX_LIST_ITEMS = 200
MAX_VALUE_DEPTH = 16  # nesting of an array or object compared with
_OPERATORS: tuple[str, ...] = get_args(Operator)
_GROUPS = ("AND", "OR", "NOT")
METADATA_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_TIME_FIELDS = ("created_at", "updated_at")
_SCALAR = (str, int, float, bool)


def parse_filter(raw: Any) -> FilterNode | None:
    """``None`` or ``{}`` means no filter."""
    if raw is None or raw == {}:
        return None
    counter = [0]
    return _parse(raw, depth=0, counter=counter)


def _parse(raw: Any, *, depth: int, counter: list[int]) -> FilterNode:
    if depth > MAX_DEPTH:
        raise InvalidFilter(f"filters nest deeper than {MAX_DEPTH} levels")
    if not isinstance(raw, dict) or not raw:
        raise InvalidFilter('a filter must be a non-empty JSON object, e.g. {"category": "food"}')
    nodes: list[FilterNode] = []
    for key, value in raw.items():
        if key in _GROUPS:
            nodes.append(_parse_group(key, value, depth=depth, counter=counter))
        elif key.upper() in _GROUPS:
            raise InvalidFilter(f"logical groups are upper case: use {key.upper()!r}, not {key!r}")
        else:
            nodes.extend(_parse_field(key, value, counter=counter))
    return nodes[0] if len(nodes) == 1 else AllOf(tuple(nodes))


def _parse_group(key: str, value: Any, *, depth: int, counter: list[int]) -> FilterNode:
    if key == "NOT":
        return Negation(_parse(value, depth=depth + 1, counter=counter))
    if not isinstance(value, list) or not value:
        raise InvalidFilter(f"{key} takes a non-empty list of filters")
    items = tuple(_parse(item, depth=depth + 1, counter=counter) for item in value)
    return AllOf(items) if key == "AND" else AnyOf(items)


def _parse_field(field: str, value: Any, *, counter: list[int]) -> list[Condition]:
    name, is_builtin = _resolve_field(field)
    if isinstance(value, dict):
        # An object is always a map of operators; compare with an object via {"eq": {...}}.
        unknown = sorted(op for op in value if op not in _OPERATORS)
        if unknown or not value:
            raise InvalidFilter(
                f"unknown operator(s) {unknown} on {field!r}; use one of {', '.join(_OPERATORS)}"
            )
        pairs = list(value.items())
    else:
        pairs = [("eq", value)]
    conditions = []
    for operator, operand in pairs:
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise InvalidFilter(f"a filter may hold at most {MAX_CONDITIONS} conditions")
        checked = _check_operand(field, is_builtin, cast(Operator, operator), operand)
        conditions.append(Condition(name, cast(Operator, operator), checked, is_builtin))
    return conditions


def _resolve_field(field: str) -> tuple[str, bool]:
    if field.startswith("metadata."):
        key = field.removeprefix("metadata.")
    elif field in BUILTIN_FILTER_FIELDS:
        return field, True
    else:
        key = field
    if not METADATA_KEY.match(key):
        raise InvalidFilter(
            f"{field!r} is not a filterable field: use a built-in field "
            f"({', '.join(BUILTIN_FILTER_FIELDS)}) or a metadata key of 1-64 letters, digits, "
            "'_' or '-'"
        )
    return key, False


def _check_operand(field: str, is_builtin: bool, operator: Operator, operand: Any) -> Any:
    _check_storable_json(field, operand)
    if operator in ("in", "nin"):
        if not isinstance(operand, list) or not operand or len(operand) > MAX_LIST_ITEMS:
            raise InvalidFilter(
                f"{operator!r} on {field!r} takes a list of 1 to {MAX_LIST_ITEMS} values"
            )
        if not all(isinstance(item, _SCALAR) for item in operand):
            raise InvalidFilter(f"{operator!r} on {field!r} takes strings, numbers or booleans")
    elif operator in ("gt", "gte", "lt", "lte"):
        if isinstance(operand, bool) or not isinstance(operand, (str, int, float)):
            raise InvalidFilter(f"{operator!r} on {field!r} compares with a number or a string")
    elif operator == "contains" and not isinstance(operand, _SCALAR):
        raise InvalidFilter(f"'contains' on {field!r} takes a string, number or boolean")
    if is_builtin:
        return _check_builtin_operand(field, operator, operand)
    return operand


def _check_builtin_operand(field: str, operator: Operator, operand: Any) -> Any:
    if field == "categories":
        return _check_categories_operand(operator, operand)
    if field in _TIME_FIELDS:
        if operator in ("in", "nin", "contains"):
            raise InvalidFilter(f"{field!r} supports eq, ne, gt, gte, lt and lte")
        return _parse_timestamp(field, operand)
    # A scope id is one string: a list compares with it only through 'in' / 'nin'.
    values = operand if operator in ("in", "nin") else [operand]
    if not all(isinstance(value, str) for value in values):
        raise InvalidFilter(f"{field!r} compares with strings")
    return operand


def _check_categories_operand(operator: Operator, operand: Any) -> Any:
    if operator in ("gt", "gte", "lt", "lte"):
        raise InvalidFilter(
            "'categories' supports contains (or eq) and ne with a category name, and in and nin "
            "with a list of names"
        )
    values = operand if operator in ("in", "nin") else [operand]
    if not all(isinstance(value, str) for value in values):
        raise InvalidFilter(
            "'categories' compares with category names (strings): "
            '{"categories": {"contains": "food"}} or {"categories": {"in": ["food", "travel"]}}'
        )
    return operand


def _parse_timestamp(field: str, operand: Any) -> datetime:
    if isinstance(operand, str):
        try:
            parsed = datetime.fromisoformat(operand)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                raise InvalidFilter(f"{field!r} needs a timezone, e.g. 2026-01-31T12:00:00Z")
            check_storable(field, parsed, InvalidFilter)
            return parsed
    raise InvalidFilter(
        f"{field!r} compares with an ISO 8601 timestamp {TIME_RANGE}, e.g. 2026-01-31T12:00:00Z"
    )


def _check_storable_json(field: str, operand: Any) -> None:
    """Refuse what Postgres cannot hold as JSON or text: NaN and infinite numbers (JSON has
    none, but the ``filters`` query parameter is read by a lenient parser), the NUL
    character, and values nested absurdly deep."""
    pending = [(operand, 0)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_VALUE_DEPTH:
            raise InvalidFilter(
                f"the value compared with {field!r} nests deeper than {MAX_VALUE_DEPTH} levels"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidFilter(f"{field!r} compares with finite numbers only, not {value}")
        found = unstorable_character(value) if isinstance(value, str) else None
        if found is not None:
            raise InvalidFilter(
                f"the value compared with {field!r} holds {found}, which no stored text holds"
            )
        if isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, dict):
            pending.extend((item, depth + 1) for pair in value.items() for item in pair)
