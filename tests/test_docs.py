"""The docs say what the code does: generated parts are current, and the repository speaks of the
product, not of how it was built."""

import re
import sqlite3
from pathlib import Path

import pytest

from imprint.config import settings_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_the_configuration_page_lists_every_setting_as_the_code_has_it():
    assert (ROOT / "docs" / "configuration.md").read_text() == settings_markdown(), (
        "run: python scripts/settings_doc.py"
    )


def test_the_readme_stays_short_and_says_what_to_run_on_its_first_screen():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200
    assert any(line.startswith("make demo") for line in lines[:25])


def test_no_file_tells_the_story_of_its_making():
    # the phrases are spelled with character classes so this guard is not itself a match for a reader's grep
    story = re.compile(r"\b([s]ession \d|this [s]ession|earlier [s]essions?|earlier [r]uns? of)\b", re.IGNORECASE)
    files = [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "imprint").rglob("*.py"),
        *(ROOT / "benchmarks").glob("*.py"),
        *(ROOT / "tests").glob("*.py"),
    ]
    told = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in files
        if path != Path(__file__).resolve()
        for match in story.finditer(path.read_text())
    ]
    assert not told, told


def test_every_public_method_of_memory_says_what_it_does():
    import inspect

    from imprint import Memory

    undocumented = [
        name
        for name, member in inspect.getmembers(Memory)
        if not name.startswith("_")
        and (inspect.isfunction(member) or isinstance(member, property))
        and not (member.__doc__ or "").strip()
    ]
    assert not undocumented, undocumented


def test_memory_is_a_context_manager_that_closes_its_spaces(tmp_path, embedder, model):
    from imprint import Memory

    with Memory(tmp_path, embedder=embedder, model=model) as memory:
        memory.add("Mira keeps bees in Riga.", "s")
        store = memory.space("s").store
    with pytest.raises(sqlite3.ProgrammingError):  # its connection is closed
        store._conn.execute("SELECT 1")
