"""How deep a JSON document nests, measured before it is parsed.

Parsers recurse once per level: a body of 100,000 ``[`` exhausts the interpreter's stack
(RecursionError) before it can be refused as malformed. Nothing this service stores or
filters on needs more than a few levels, so one limit, ``MAX_JSON_DEPTH``, applies to every
JSON document a client sends: request bodies (both dialects), the ``filters`` query parameter
and each line of an import.
"""

from __future__ import annotations

import re

import numpy as np

from service.errors import MalformedRequest

MAX_JSON_DEPTH = 32
"""Most levels of arrays and objects inside one another, the outermost one included."""

# A JSON string (escaped quotes included): brackets inside one do not nest anything.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in _BRACKETS)
# Opening brackets become +1 and closing ones -1 (as signed bytes): the running sum is the depth.
_AS_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_CHUNK = 1 << 20


def json_depth(document: bytes) -> int:
    """The deepest nesting of arrays and objects in ``document`` (0 for a scalar).

    Runs in linear time without recursion, whatever the input; for malformed JSON the figure
    is an estimate (the parser refuses such input anyway)."""
    steps = _STRING.sub(b"", document).translate(_AS_STEPS, _NOT_BRACKETS)
    deepest = level = 0
    for start in range(0, len(steps), _CHUNK):
        running = level + np.cumsum(
            np.frombuffer(
                steps, dtype=np.int8, count=min(_CHUNK, len(steps) - start), offset=start
            ),
            dtype=np.int64,
        )
        deepest = max(deepest, int(running.max()))
        level = int(running[-1])
    return deepest


def check_json_depth(document: bytes | str, what: str) -> None:
    """Refuse ``document`` if it nests deeper than ``MAX_JSON_DEPTH``; ``what`` names it."""
    raw = document.encode() if isinstance(document, str) else document
    openings = raw.count(b"[") + raw.count(b"{")
    if openings > MAX_JSON_DEPTH and json_depth(raw) > MAX_JSON_DEPTH:
        raise MalformedRequest(
            f"{what} nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
            f"flatten it to at most {MAX_JSON_DEPTH} levels"
        )
