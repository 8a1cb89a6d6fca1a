"""docs/configuration.md lists every setting as service/settings.py declares it."""

from __future__ import annotations

from service.settings import SETTINGS
from service.settings_doc import CONFIGURATION_DOC, with_current_tables


def test_committed_configuration_doc_matches_the_settings() -> None:
    committed = CONFIGURATION_DOC.read_text()

    assert committed == with_current_tables(committed), (
        "docs/configuration.md is out of date: run `make docs` and commit the result"
    )


def test_every_setting_is_documented_with_its_default() -> None:
    rows = {
        cells[0].strip(" `"): cells[1].strip()
        for line in CONFIGURATION_DOC.read_text().splitlines()
        if line.startswith("| `")
        for cells in [line.strip("|").split(" | ")]
    }

    assert rows == {each.env: each.shown for each in SETTINGS}
