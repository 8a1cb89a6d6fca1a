"""What may reach a log: secrets masked, exceptions reduced to their types and frames.

A log is read by more people than the API's callers, so nothing a caller sent and nothing
that opens a door may appear in it: not an API key, not a database password, not an LLM key,
not a request body or a memory's text. Those travel in exception messages (a Postgres error
quotes the value it refused, a trigger's message can quote a row) and in a traceback's
local variables (the ASGI scope holds the Authorization header, the settings hold the DSN).
So an exception is logged as its type, its SQLSTATE where it has one, and its frames with
file, line and function; never its message or its locals. Free-text log fields go through
``redact`` as a second line of defence.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@host -> scheme://user:***@host (also when quoted inside a message)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*:)[^\s@'\"]+(?=@)")
# key=value DSNs (libpq keyword form) and "password": "..." in rendered dicts
_KEYWORD_PASSWORD = re.compile(
    r"(?P<head>\bpassword['\"]?\s*[=:]\s*['\"]?)[^\s'\",;&)}]+", flags=re.IGNORECASE
)
# This service's API keys (service.domain.api_keys.API_KEY_PREFIX) and any bearer token.
_API_KEY = re.compile(r"msk_[A-Za-z0-9_-]+")
_BEARER = re.compile(r"(?P<head>\bBearer\s+)\S+", flags=re.IGNORECASE)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def mask_dsn(dsn: str) -> str:
    """The DSN with its password (if any) replaced by ``***``: the only form a log may show."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return MASK
    if parts.password is None:
        return _KEYWORD_PASSWORD.sub(rf"\g<head>{MASK}", dsn)
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


class Redactor:
    """Masks the secrets this process knows of, and anything shaped like a secret."""

    def __init__(self, known_secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a secret containing another is masked whole. Very short values
        # (a password of "x") would mask every occurrence of common letters; they are left to
        # the patterns below.
        self._known = sorted({s for s in known_secrets if s and len(s) >= 4}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._known:
            value = value.replace(secret, MASK)
        value = _URL_PASSWORD.sub(rf"\g<head>{MASK}", value)
        value = _KEYWORD_PASSWORD.sub(rf"\g<head>{MASK}", value)
        value = _BEARER.sub(rf"\g<head>{MASK}", value)
        return _API_KEY.sub(MASK, value)

    def value(self, value: Any) -> Any:
        """``value`` with every string inside it redacted (dicts, lists and tuples walked)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value


def exc_info_of(value: Any) -> ExcInfo | None:
    """Normalise what ``exc_info`` can be in a log call (True, an exception, a triple)."""
    if value is True:
        value = sys.exc_info()
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and value[0] is not None:
        return value
    return None


def describe_exception(error: BaseException) -> dict[str, Any]:
    """One exception of a chain: its type, its SQLSTATE if Postgres raised it, its frames."""
    described: dict[str, Any] = {"type": _qualified_name(type(error))}
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str):
        described["sqlstate"] = sqlstate
    described["frames"] = [
        {"file": frame.filename, "line": frame.lineno, "function": frame.name}
        for frame in traceback.extract_tb(error.__traceback__)
    ]
    return described


def safe_traceback(exc_info: ExcInfo) -> list[dict[str, Any]]:
    """The chain of exceptions, outermost last as Python prints it, without messages or
    locals."""
    chain: list[BaseException] = []
    error: BaseException | None = exc_info[1]
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return [describe_exception(item) for item in reversed(chain)]


def format_safe_traceback(described: list[dict[str, Any]]) -> str:
    """The same, as the familiar text block (for the console renderer)."""
    lines: list[str] = []
    for item in described:
        if lines:
            lines.append("During handling of the above exception, another was raised:")
        lines.append("Traceback (most recent call last):")
        lines += [
            f'  File "{frame["file"]}", line {frame["line"]}, in {frame["function"]}'
            for frame in item["frames"]
        ]
        state = f" (SQLSTATE {item['sqlstate']})" if "sqlstate" in item else ""
        lines.append(f"{item['type']}{state}: <message withheld from logs>")
    return "\n".join(lines)


def _qualified_name(kind: type[BaseException]) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
