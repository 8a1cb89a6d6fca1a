"""The system prompt shows the sections about preferences and categories only to the adds that
have them: every add pays for its prompt's tokens."""

from __future__ import annotations

import pytest

from service.domain.adding.prompt import system_prompt


def test_an_add_without_options_gets_the_prompt_without_their_sections() -> None:
    prompt = system_prompt("user")

    assert '"preferences"' not in prompt and '"categories"' not in prompt
    assert '"memory": id or null}]}' in prompt
    assert "[[" not in prompt and "\n\n\n" not in prompt


@pytest.mark.parametrize(
    ("preferences", "categories"), [(True, False), (False, True), (True, True)]
)
def test_each_option_brings_its_own_section(preferences: bool, categories: bool) -> None:
    prompt = system_prompt("user", preferences=preferences, categories=categories)

    assert ('"preferences" narrow and shape' in prompt) == preferences
    assert ('"categories": ["name", ...]' in prompt) == categories
    assert "[[" not in prompt and "\n\n\n" not in prompt
    assert len(prompt) > len(system_prompt("user"))
