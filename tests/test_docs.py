"""The docs say what the code does: generated parts are current, and the repository speaks of the
product, not of how it was built."""

import re
from pathlib import Path

from imprint.config import settings_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_the_configuration_page_lists_every_setting_as_the_code_has_it():
    assert (ROOT / "docs" / "configuration.md").read_text() == settings_markdown(), \
        "run: python scripts/settings_doc.py"


def test_the_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_no_file_tells_the_story_of_its_making():
    story = re.compile(r"\b(session \d|this session|earlier sessions?|earlier runs? of)\b", re.IGNORECASE)
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md"),
             *(ROOT / "imprint").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py"), *(ROOT / "tests").glob("*.py")]
    told = [f"{path.relative_to(ROOT)}: {match.group(0)}" for path in files if path != Path(__file__).resolve()
            for match in story.finditer(path.read_text())]
    assert not told, told
