"""How deep a JSON document nests, read before parsing, on plain values."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.json_depth import MAX_JSON_DEPTH, check_json_depth, json_depth
from service.errors import MalformedRequest

# Strings full of what could fool a scanner: brackets, quotes and backslashes.
tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\ax:,\n\u00e9'), max_size=12)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), tricky_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(tricky_text, inner, max_size=3)
    ),
    max_leaves=20,
)


def nesting(value: Any) -> int:
    """The depth by definition: each array or object is one level more than its deepest item."""
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=json_values, ensure_ascii=st.booleans(), indent=st.sampled_from([None, 2]))
def test_the_depth_read_is_the_depth_of_the_document(
    value: Any, ensure_ascii: bool, indent: int | None
) -> None:
    document = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent).encode()

    assert json_depth(document) == nesting(value)


@settings(max_examples=100, deadline=None)
@given(levels=st.integers(0, 2 * MAX_JSON_DEPTH), inner=json_values)
def test_a_document_is_refused_exactly_when_it_nests_past_the_limit(
    levels: int, inner: Any
) -> None:
    value = inner
    for _ in range(levels):
        value = [value]
    document = json.dumps(value)

    if nesting(value) > MAX_JSON_DEPTH:
        with pytest.raises(MalformedRequest, match="the body nests"):
            check_json_depth(document, "the body")
    else:
        check_json_depth(document, "the body")


def test_depth_is_counted_across_the_chunks_it_is_read_in() -> None:
    levels = (1 << 20) + 5  # past one chunk of the scan
    document = b"[" * levels + b"]" * levels

    assert json_depth(document) == levels
    many = b"[" + b", ".join([b'{"a": [1, "]]"], "b": {"c": []}}'] * 50_000) + b"]"
    assert len(many) > 1 << 20
    assert json_depth(many) == 4
    assert json_depth(b"7") == 0
