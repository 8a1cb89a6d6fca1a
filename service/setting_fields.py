"""How one setting is declared: its variable, parser and bounds, default, section and text.

A field of ``Settings`` is declared with ``Section.setting`` (or ``Section.computed``), which
returns a dataclass field carrying a :class:`Setting`. ``Settings.from_env``, the ``--help``
epilogs and docs/configuration.md all read those, so a setting is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from service.errors import ConfigurationError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Choice = TypeVar("Choice", bound=str)

_METADATA_KEY = "setting"


class _Refused(Exception):
    """A value its parser does not take; the message is completed with the variable's name."""


@dataclass(frozen=True, slots=True)
class Parser(Generic[T_co]):
    """Turns a variable's text into a value, or refuses it saying what it takes."""

    parse: Callable[[str], T_co]
    accepts: str  # what the docs say it takes, e.g. "integer ≥ 1"


@dataclass(frozen=True, slots=True)
class Setting(Generic[T_co]):
    """One environment variable: how it is read, its default, and what it does."""

    env: str
    parser: Parser[T_co]
    default: Callable[[Mapping[str, str]], T_co]  # from the rest of the environment
    shown: str  # the default as documented (markdown)
    section: Section
    doc: str  # markdown
    verbatim: bool  # taken exactly as set, spaces and emptiness included

    def read(self, env: Mapping[str, str]) -> T_co:
        """The value in ``env``, or the default when unset (or blank, unless verbatim)."""
        raw = env.get(self.env)
        if raw is not None and not self.verbatim:
            raw = raw.strip() or None
        if raw is None:
            return self.default(env)
        try:
            return self.parser.parse(raw)
        except _Refused as refused:
            raise ConfigurationError(f"{self.env} {refused}") from None


@dataclass(frozen=True, slots=True)
class Section:
    """What a group of settings configures: a heading of docs/configuration.md, and how a
    command's ``--help`` lists the variables it reads."""

    title: str

    def setting(
        self,
        env: str,
        *,
        default: T,
        parse: Parser[T],
        doc: str,
        shown: str | None = None,
        secret: bool = False,
        verbatim: bool = False,
    ) -> T:
        """A ``Settings`` field read from ``env``; ``secret`` keeps it out of ``repr``."""
        spec = Setting(
            env,
            parse,
            lambda _: default,
            _shown(default) if shown is None else shown,
            self,
            doc,
            verbatim,
        )
        return field(default=default, repr=not secret, metadata={_METADATA_KEY: spec})

    def computed(
        self,
        env: str,
        *,
        default: Callable[[Mapping[str, str]], T],
        parse: Parser[T],
        doc: str,
        shown: str,
    ) -> T:
        """A field whose default is computed from the rest of the environment (an empty one
        for ``Settings()``)."""
        spec = Setting(env, parse, default, shown, self, doc, verbatim=False)
        return field(default_factory=lambda: default({}), metadata={_METADATA_KEY: spec})


def setting_of(dataclass_field: Field[Any]) -> Setting[Any]:
    """The setting a field was declared with."""
    spec = dataclass_field.metadata.get(_METADATA_KEY)
    if not isinstance(spec, Setting):
        raise TypeError(f"{dataclass_field.name} is not declared with Section.setting()")
    return spec


STORAGE = Section("Database")
EMBEDDING = Section("Embedding model")
REQUESTS = Section("Requests, limits and lifetimes")
SEARCH = Section("Search")
INGESTION = Section("Adding memories and the LLM step")
LOGGING = Section("Logging")
SECTIONS = (STORAGE, EMBEDDING, REQUESTS, SEARCH, INGESTION, LOGGING)  # in the docs' order


def _shown(default: object) -> str:
    if default is None:
        return "(unset)"
    if isinstance(default, float):
        return f"`{default:g}`"
    return f"`{default}`"


def _bound(value: float) -> str:
    return f"{value:g}"


def integer(*, minimum: int, maximum: int | None = None) -> Parser[int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise _Refused(f"must be an integer, got {raw!r}") from None
        if value < minimum:
            raise _Refused(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise _Refused(f"must be at most {maximum}, got {value}")
        return value

    if maximum is None:
        return Parser(parse, f"integer ≥ {minimum}")
    return Parser(parse, f"integer from {minimum} to {maximum}")


def number(*, minimum: float, maximum: float = float("inf")) -> Parser[float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise _Refused(f"must be a number, got {raw!r}") from None
        if value < minimum:
            raise _Refused(f"must be at least {minimum}, got {value}")
        if value > maximum:
            raise _Refused(f"must be at most {maximum}, got {value}")
        return value

    if maximum == float("inf"):
        return Parser(parse, f"number ≥ {_bound(minimum)}")
    return Parser(parse, f"number from {_bound(minimum)} to {_bound(maximum)}")


def one_of(options: tuple[Choice, ...], *, any_case: bool = False) -> Parser[Choice]:
    """One of ``options`` (e.g. a Literal's ``get_args``), typed as that Literal."""
    listed = f"{', '.join(options[:-1])} or {options[-1]}"

    def parse(raw: str) -> Choice:
        wanted = raw.lower() if any_case else raw
        for option in options:
            if option == wanted:
                return option
        raise _Refused(f"must be {listed}")

    return Parser(parse, f"{', '.join(f'`{o}`' for o in options[:-1])} or `{options[-1]}`")


def _text(raw: str) -> str:
    return raw


def _text_or_unset(raw: str) -> str | None:
    return raw or None


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


TEXT = Parser(_text, "text")
# For verbatim settings: empty means unset.
TEXT_OR_UNSET = Parser(_text_or_unset, "text")
URL_OR_UNSET = Parser(_text_or_unset, "URL")
PATH = Parser(_path, "path")
