"""Sentences of free text, and a turn's words without its speaker."""

import re

# A sentence ends at . ! or ? before a capital, a digit or an opening quote, but not after an
# initial ("by M. Ward"), and at a blank line.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)\s+(?=[\"'(\[A-Z0-9])|\n\s*\n")


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def without_speaker(text: str, speaker: str | None) -> str:
    """A chunk's text without the `speaker: ` prefix `chunk_segment` puts in front of a turn."""
    return text.removeprefix(f"{speaker}: ") if speaker else text
