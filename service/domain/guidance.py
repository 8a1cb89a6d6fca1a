"""What an application may ask of the extraction, and the categories a memory may carry.

Instructions, includes, excludes and category descriptions are user text that reaches an LLM
prompt: each is bounded, so that one add cannot make the prompt (and its cost) grow without
limit, and the prompt carries them as JSON data beside the conversation, never spliced into
its own instructions. Category names are what filters compare, so they are short, visible and
unique.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.domain.texts import (
    check_values_storable,
    is_invisible,
    normalise_text,
    storable_form,
)
from service.errors import InvalidRequest
from service.models import Category, Guidance

MAX_INSTRUCTIONS_CHARS = 2000
MAX_INCLUDES_CHARS = 500  # includes and excludes, each
MAX_CATEGORIES = 30
MAX_DROPPED_SHOWN = 5  # names a rejection quotes; it counts the rest
MAX_CATEGORY_NAME_CHARS = 64
MAX_CATEGORY_DESCRIPTION_CHARS = 256


def check_guidance(guidance: Guidance) -> None:
    """Refuse (422) options an add may not carry, naming the field and the limit."""
    check_instructions("custom_instructions", guidance.instructions, MAX_INSTRUCTIONS_CHARS)
    check_instructions("includes", guidance.includes, MAX_INCLUDES_CHARS)
    check_instructions("excludes", guidance.excludes, MAX_INCLUDES_CHARS)
    check_categories(guidance.categories)


def check_instructions(field: str, text: str | None, max_chars: int) -> None:
    if text is None:
        return
    check_values_storable(text, field)
    if is_invisible(text):
        raise InvalidRequest(f"{field} must have a visible character (or be left out)")
    if len(text) > max_chars:
        raise InvalidRequest(f"{field} is {len(text)} characters long; the limit is {max_chars}")


def check_categories(categories: Iterable[Category], name: str = "custom_categories") -> None:
    categories = list(categories)
    if len(categories) > MAX_CATEGORIES:
        raise InvalidRequest(
            f"{name} holds {len(categories)} categories; the limit is {MAX_CATEGORIES}"
        )
    seen: dict[str, str] = {}
    for index, category in enumerate(categories):
        field = f"{name}[{index}]"
        check_values_storable(category.name, f"{field} name")
        check_values_storable(category.description, f"{field} description")
        if is_invisible(category.name) or category.name != category.name.strip():
            raise InvalidRequest(
                f"the name of {field} must be visible, without spaces around it: {category.name!r}"
            )
        if len(category.name) > MAX_CATEGORY_NAME_CHARS:
            raise InvalidRequest(
                f"the name of {field} is longer than {MAX_CATEGORY_NAME_CHARS} characters"
            )
        if len(category.description) > MAX_CATEGORY_DESCRIPTION_CHARS:
            raise InvalidRequest(
                f"the description of {field} ({category.name!r}) is "
                f"{len(category.description)} characters long; the limit is "
                f"{MAX_CATEGORY_DESCRIPTION_CHARS}"
            )
        key = normalise_text(category.name)
        if key in seen:
            raise InvalidRequest(
                f"{name} names {category.name!r} twice (as {seen[key]!r} before); "
                "names differ by more than case and spacing"
            )
        seen[key] = category.name


def check_memory_categories(names: list[str]) -> None:
    """The categories a memory may carry (an import's): as many and as plain as an add's."""
    check_categories((Category(name) for name in names), "categories")


class CategoryChoice:
    """Reads the categories the LLM chose for a fact against those the add allowed.

    A name is taken as written, or matched ignoring case and spacing (the model wrote
    "Food" for "food"); anything else is dropped, and the caller reports it.
    """

    def __init__(self, allowed: Iterable[Category]) -> None:
        self._by_key = {normalise_text(category.name): category.name for category in allowed}

    def choose(self, names: Iterable[str]) -> tuple[tuple[str, ...], list[str]]:
        """(the allowed categories named, each once, in the order given; the names dropped)."""
        kept: dict[str, None] = {}
        dropped: list[str] = []
        for name in names:
            found = self._by_key.get(normalise_text(name))
            if found is None:
                dropped.append(name)
            else:
                kept[found] = None
        return tuple(kept), dropped

    def why_dropped(self, names: list[str]) -> str:
        """Why these names were dropped, in one line of bounded length: a model may name a
        thousand categories, and the answer (stored with a job) must not grow with them."""
        distinct = list(dict.fromkeys(names))
        shown = ", ".join(repr(_shown_name(name)) for name in distinct[:MAX_DROPPED_SHOWN])
        if len(distinct) > MAX_DROPPED_SHOWN:
            shown += f" and {len(distinct) - MAX_DROPPED_SHOWN} more"
        noun = "category" if len(distinct) == 1 else "categories"
        if not self._by_key:
            return (
                f"{noun} {shown} dropped: this add gave no categories to choose from; "
                "the fact itself was applied"
            )
        return (
            f"{noun} {shown} dropped: not among this add's {len(self._by_key)} categories; "
            "the fact itself was applied"
        )


def _shown_name(name: str) -> str:
    # The name is the model's: shown short, and without what Postgres cannot store.
    shown = storable_form(name[:MAX_CATEGORY_NAME_CHARS])
    return shown + ("…" if len(name) > MAX_CATEGORY_NAME_CHARS else "")
