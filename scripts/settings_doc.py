"""Write docs/configuration.md from the Settings class (tests/test_docs.py checks it is current)."""

from pathlib import Path

from imprint.config import settings_markdown

target = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
target.write_text(settings_markdown())
print(f"wrote {target}")
