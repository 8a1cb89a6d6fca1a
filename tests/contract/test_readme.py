"""The README stays a README for users: short, opening with the two commands, linking the
documentation that holds the rest; and no link in the documentation leads nowhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
DOCUMENTS = [README, ROOT / "deploy" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_BYTES = 16_384

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def test_the_readme_is_at_most_16_kib() -> None:
    size = len(README.read_bytes())

    assert size <= MAX_README_BYTES, (
        f"README.md is {size} bytes, over {MAX_README_BYTES}: move detail to docs/"
    )


def test_the_readme_opens_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()

    assert lines[2:6] == [
        "```sh",
        "make run     # set up .venv and serve on http://127.0.0.1:8000 with an embedded "
        "Postgres, no configuration",
        "make test    # set up .venv, lint (ruff, mypy --strict) and run the whole test suite",
        "```",
    ]


def test_the_readme_links_the_documentation() -> None:
    links = set(_LINK.findall(README.read_text()))

    for document in (
        "docs/concepts.md",
        "docs/api.md",
        "docs/mem0-migration.md",
        "docs/configuration.md",
        "docs/benchmarks.md",
        "docs/architecture.md",
        "deploy/README.md",
    ):
        assert document in links, f"README.md does not link {document}"


def test_every_relative_link_leads_to_a_file_and_heading_of_the_repository() -> None:
    broken = []
    for document in DOCUMENTS:
        for link in _LINK.findall(_FENCE.sub("", document.read_text())):
            if re.match(r"[a-z]+:", link):  # https:, mailto:
                continue
            path, _, anchor = link.partition("#")
            target = (document.parent / path).resolve() if path else document
            if not target.is_relative_to(ROOT) or not target.exists():
                broken.append(f"{document.relative_to(ROOT)}: {link}")
            elif anchor and target.suffix == ".md" and anchor not in anchors(target):
                broken.append(f"{document.relative_to(ROOT)}: {link} (no such heading)")

    assert broken == []


def anchors(document: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    text = _FENCE.sub("", document.read_text())
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in _HEADING.findall(text)
    }
