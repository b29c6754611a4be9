"""docs/guides.md: every section of the five guides, each pointing at chapter sections that exist.

The chapters cite the guides ("guide 001 §8"); docs/guides.md is where a learner reads what
such a section says, in English, and which chapter section and exercise run it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_tasks.checks import load_all

ROOT = Path(__file__).resolve().parent.parent
GUIDES = ROOT / "docs" / "guides.md"
#: The sections of each guide, as listed in shared/seed-map.md.
SECTIONS = {"000": 13, "001": 14, "002": 8, "003": 7, "004": 7}


def links(text: str) -> list[tuple[str, str, str]]:
    """``(folder, notebook, fragment)`` of every ``](../notebooks|exercises/...)`` link.

    A heading's anchor can hold parentheses (``...-(guide-000-§4)``): the link ends at the
    ``)`` that balances its opening one, as in CommonMark.
    """
    found = []
    for match in re.finditer(r"\]\(\.\./(notebooks|exercises)/", text):
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        target = text[match.end() : end - 1]
        name, _, fragment = target.partition("#")
        found.append((match.group(1), name, fragment))
    return found


def anchor(heading: str) -> str:
    """The id JupyterLab gives a rendered heading: its text, spaces turned into '-'."""
    text = re.sub(r"`([^`]*)`", r"\1", heading).replace("**", "")
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    nb = nbformat.read(path, as_version=4)
    found = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                match = re.match(r"^#{1,6}\s+(.*)$", line)
                if match:
                    found.add(anchor(match.group(1).strip()))
    return found


def rows() -> dict[str, str]:
    found = {}
    for line in GUIDES.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| (\d{3}) §(\d+) \|", line)
        if match:
            found[f"{match.group(1)} §{match.group(2)}"] = line
    return found


def test_every_guide_section_has_a_row_with_a_chapter_section() -> None:
    found = rows()
    expected = [f"{g} §{n}" for g, count in SECTIONS.items() for n in range(1, count + 1)]
    assert sorted(found) == sorted(expected)
    for section, line in found.items():
        assert "](../notebooks/" in line, f"{section} points at no chapter section"


@pytest.mark.parametrize(
    "link", sorted(set(links(GUIDES.read_text(encoding="utf-8")))), ids="/".join
)
def test_every_link_points_at_something_that_exists(link: tuple[str, str, str]) -> None:
    folder, name, fragment = link
    path = ROOT / folder / name
    assert path.is_file(), f"{folder}/{name} does not exist"
    if fragment:
        assert fragment in anchors(path), f"{name} has no heading with the anchor #{fragment}"


def test_every_exercise_named_is_a_registered_exercise_of_that_notebook() -> None:
    registry = load_all()
    text = GUIDES.read_text(encoding="utf-8")
    named = re.findall(r"\[(\d\d\.\d+)\]\(\.\./exercises/(\d\d)_[\w-]+\.ipynb\)", text)
    assert named
    for exercise_id, chapter in named:
        assert exercise_id in registry, f"{exercise_id} is not a registered exercise"
        assert exercise_id.startswith(f"{chapter}."), f"{exercise_id} linked to chapter {chapter}"


def test_the_readme_and_the_chapters_point_here() -> None:
    assert "docs/guides.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        first = nbformat.read(path, as_version=4).cells[0].source
        assert "](../docs/guides.md)" in first, f"{path.name}: its first cell does not link here"
