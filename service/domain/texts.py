"""What a text, a scope id or a metadata value must be to be stored.

Checked in the domain, so every caller (both dialects, batches, updates, imports, the LLM
pipeline) meets the same rules, and nothing Postgres would refuse ever reaches it: a value
Postgres refuses is quoted in its server log.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from service.errors import InvalidRequest
from service.models import Scope


def normalise_text(text: str) -> str:
    """What "the same text" means for duplicates: Unicode-normalised, case and spacing folded."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# Characters that show nothing: format characters (zero-width space and joiners, BOM, bidi
# marks), separators and controls by category, and letters and marks that render empty.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
_INVISIBLE_CHARACTERS = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
    + "".join(map(chr, range(0xFE00, 0xFE10)))  # variation selectors
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)


def is_invisible(text: str) -> bool:
    """Whether ``text`` shows nothing at all: empty, spaces, or only invisible characters."""
    return all(
        char.isspace()
        or char in _INVISIBLE_CHARACTERS
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        for char in text
    )


def check_memory_text(text: str, max_chars: int) -> None:
    """The one check of every text stored (adds, batches, updates, imports, both dialects)."""
    check_values_storable(text, "text")
    if is_invisible(text):
        raise InvalidRequest(
            "text must not be blank: it has no visible character (only spaces, zero-width or "
            "other invisible characters)"
        )
    if len(text) > max_chars:
        raise InvalidRequest(f"text is {len(text)} characters long; the limit is {max_chars}")


def require_scope(scope: Scope) -> None:
    """The one check that a memory (or what an add stores) names whom it is about, with ids
    that show something and that Postgres can hold."""
    if scope.is_empty:
        raise InvalidRequest("give at least one of user_id, agent_id, run_id")
    for name, value in scope.items():
        if is_invisible(value):
            raise InvalidRequest(f"{name} must have a visible character")
        check_values_storable(value, name)
        if len(value) > MAX_SCOPE_ID_CHARS:
            raise InvalidRequest(f"{name} is longer than {MAX_SCOPE_ID_CHARS} characters")


MAX_SCOPE_ID_CHARS = 255


def unstorable_character(text: str) -> str | None:
    """What in ``text`` Postgres cannot hold: NUL, or half of a UTF-16 surrogate pair."""
    if "\x00" in text:
        return "the NUL character (\\u0000)"
    if any("\ud800" <= char <= "\udfff" for char in text):
        return "a lone UTF-16 surrogate (\\ud800-\\udfff)"
    return None


def storable_form(text: str) -> str:
    """``text`` with what Postgres cannot hold replaced by U+FFFD (to report a refused text)."""
    if unstorable_character(text) is None:
        return text
    return "".join(
        "\ufffd" if char == "\x00" or "\ud800" <= char <= "\udfff" else char for char in text
    )


def check_values_storable(value: Any, field: str) -> None:
    """Refuse ``value`` (a string, or metadata: keys and values at any depth) if a string in
    it holds a character Postgres cannot store, naming the field and the character."""
    if isinstance(value, str):
        found = unstorable_character(value)
        if found is not None:
            raise InvalidRequest(f"{field} holds {found}, which cannot be stored")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_values_storable(key, f"a key of {field}")
            check_values_storable(item, f"{field}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_values_storable(item, f"{field}[{index}]")
