"""Compile parsed filters and scopes into parameterised SQL (values never enter the text)."""

from __future__ import annotations

from typing import Any

from service.models import SCOPE_FIELDS, AllOf, AnyOf, Condition, FilterNode, Negation, Scope

_COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class SqlParameters:
    """Collects values and hands back their ``$n`` placeholders."""

    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


# Expired memories are never returned, whatever the query; the maintenance loop purges them.
LIVE = "(expires_at IS NULL OR expires_at > now())"


def scope_condition(
    scope: Scope, params: SqlParameters, tenant_placeholder: str = "$1", *, live_only: bool = True
) -> str:
    """Rows of this tenant sharing every id the scope gives (and not expired, by default)."""
    parts = [f"tenant_id = {tenant_placeholder}"] + ([LIVE] if live_only else [])
    parts.extend(f"{column} = {params.add(value)}" for column, value in scope.items())
    return " AND ".join(parts)


def exact_scope_condition(
    scope: Scope, params: SqlParameters, tenant_placeholder: str = "$1"
) -> str:
    """Rows of this tenant whose user, agent and run ids are exactly the scope's (NULLs too),
    not expired."""
    return " AND ".join(
        [f"tenant_id = {tenant_placeholder}", LIVE]
        + [
            f"{column} IS NOT DISTINCT FROM {params.add(value)}::text"
            for column, value in zip(
                SCOPE_FIELDS, (scope.user_id, scope.agent_id, scope.run_id), strict=True
            )
        ]
    )


def filter_condition(node: FilterNode | None, params: SqlParameters) -> str:
    if node is None:
        return "TRUE"
    return _compile(node, params)


def _compile(node: FilterNode, params: SqlParameters) -> str:
    if isinstance(node, AllOf):
        return "(" + " AND ".join(_compile(item, params) for item in node.items) + ")"
    if isinstance(node, AnyOf):
        return "(" + " OR ".join(_compile(item, params) for item in node.items) + ")"
    if isinstance(node, Negation):
        # A NULL (missing key) inside NOT must count as "not matching", hence coalesce.
        return f"NOT coalesce({_compile(node.item, params)}, FALSE)"
    if node.field == "categories" and node.is_builtin:
        return _categories(node, params)
    if node.is_builtin:
        return _builtin(node, params)
    return _metadata(node, params)


def _builtin(condition: Condition, params: SqlParameters) -> str:
    column, operator, value = condition.field, condition.operator, condition.value
    if operator == "eq":
        return f"{column} = {params.add(value)}"
    if operator == "ne":
        return f"{column} IS DISTINCT FROM {params.add(value)}"
    if operator in _COMPARISONS:
        return f"coalesce({column} {_COMPARISONS[operator]} {params.add(value)}, FALSE)"
    if operator == "in":
        return f"coalesce({column} = ANY({params.add(value)}::text[]), FALSE)"
    if operator == "nin":
        return f"({column} IS NULL OR {column} <> ALL({params.add(value)}::text[]))"
    return f"coalesce(strpos({column}, {params.add(value)}::text) > 0, FALSE)"  # contains


def _categories(condition: Condition, params: SqlParameters) -> str:
    """A memory's categories hold a name (eq, contains; ne: they do not), or one of several
    (in; nin: none of them). Containment and overlap are what the GIN index serves."""
    operator, value = condition.operator, condition.value
    if operator in ("in", "nin"):
        matches = f"categories && {params.add(list(value))}::text[]"
    else:
        matches = f"categories @> {params.add([value])}::text[]"
    return f"NOT {matches}" if operator in ("ne", "nin") else matches


def _metadata(condition: Condition, params: SqlParameters) -> str:
    key, operator, value = condition.field, condition.operator, condition.value
    if operator in ("eq", "ne"):
        if isinstance(value, (list, dict)):
            # Equal to the whole array or object: containment would also match a longer
            # array, or an object with more keys.
            matches = (
                f"coalesce(metadata -> {params.add(key)}::text = {params.add(value)}::jsonb, FALSE)"
            )
        else:
            # Containment uses the GIN index; for a scalar it is equality.
            matches = f"metadata @> {params.add({key: value})}::jsonb"
        return matches if operator == "eq" else f"NOT {matches}"
    if operator in _COMPARISONS or operator in ("in", "nin"):
        # jsonpath compares like with like: a number never "exceeds" a string, and a
        # missing key or a value of another type simply does not match.
        predicate = "@ == $v[*]" if operator in ("in", "nin") else f"@ {_COMPARISONS[operator]} $v"
        path = params.add(f'$."{key}" ? ({predicate})')
        variables = params.add({"v": value})
        exists = f"jsonb_path_exists(metadata, {path}::jsonpath, {variables}::jsonb)"
        return f"NOT {exists}" if operator == "nin" else exists
    # contains: an element of an array, or a substring of a string.
    key_param = f"{params.add(key)}::text"
    return (
        f"(CASE jsonb_typeof(metadata -> {key_param}) "
        f"WHEN 'array' THEN metadata -> {key_param} @> "
        f"jsonb_build_array({params.add(value)}::jsonb) "
        f"WHEN 'string' THEN strpos(metadata ->> {key_param}, {params.add(str(value))}::text) > 0 "
        "ELSE FALSE END)"
    )
