"""The tables of docs/configuration.md, generated from the settings (service/settings.py).

``python -m service.settings_doc`` (``make docs``) rewrites the text between the two markers of
docs/configuration.md; the prose around them is edited by hand. ``--check`` only says whether
the file is current (tests/contract pins it too).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from service.setting_fields import SECTIONS, Section
from service.settings import SETTINGS

CONFIGURATION_DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
BEGIN = "<!-- settings: generated from service/settings.py by `make docs`; do not edit -->"
END = "<!-- end of the generated settings -->"


def env_help(sections: Sequence[Section]) -> str:
    """The variables of ``sections``, as the end of a `memory-service` command's ``--help``
    lists them."""
    lines = ["environment variables:"]
    for section in sections:
        lines.append(f"  {section.title}:")
        for each in SETTINGS:
            if each.section != section:
                continue
            text = f"{each.doc} (default: {each.shown}; {each.parser.accepts})"
            lines += textwrap.wrap(
                text.replace("`", ""),
                width=100,
                initial_indent=f"    {each.env:<33} ",
                subsequent_indent=" " * 38,
                break_on_hyphens=False,
            )
    return "\n".join(lines)


def settings_tables() -> str:
    """One markdown table per section, in the order of ``SECTIONS``."""
    parts: list[str] = []
    for section in SECTIONS:
        parts += [
            f"### {section.title}",
            "",
            "| variable | default | accepts | meaning |",
            "|---|---|---|---|",
        ]
        parts += [
            f"| `{each.env}` | {each.shown} | {each.parser.accepts} | {_cell(each.doc)} |"
            for each in SETTINGS
            if each.section == section
        ]
        parts.append("")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def with_current_tables(document: str) -> str:
    """``document`` with the text between the markers replaced by today's tables."""
    head, begin, rest = document.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the document lacks the markers {BEGIN!r} and {END!r}")
    return f"{head}{BEGIN}\n\n{settings_tables()}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", nargs="?", type=Path, default=CONFIGURATION_DOC)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    document = args.path.read_text()
    current = with_current_tables(document)
    if args.check:
        if current != document:
            sys.exit(f"{args.path} is out of date: run `make docs` and commit the result")
        return
    args.path.write_text(current)


if __name__ == "__main__":
    main()
