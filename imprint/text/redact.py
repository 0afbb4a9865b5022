"""Take a forgotten memory's words out of the raw item it came from, when the item stays.

Forgetting one memory of a long document must not leave its text in the kept original. The item
stays (its other memories still point to it), minus every sentence of the forgotten memory that
no surviving memory of the same item still holds (chunks overlap, so a boundary sentence can
belong to both). Conversation items are stored as JSON, so sentences are also matched in their
JSON-escaped form (a memory the teacher rewrote is matched by the words it was made from, `said`;
dates extract.py added are not looked for). The original file bytes cannot be edited reliably
(PDF, HTML), so they go.
"""

import json
import re

from ..records import Chunk
from .dates import strip_resolved_dates
from .sentences import split_sentences, without_speaker

REDACTED = "[forgotten]"
_GAP = r"(?:\s|\\[nrt])+"  # whitespace, or its JSON escape


def redact(content: str, forgotten: Chunk, kept: list[Chunk]) -> str:
    still_held = " ".join(_words(chunk) for chunk in kept)
    for sentence in split_sentences(_words(forgotten)):
        if sentence in still_held:
            continue
        for form in (sentence, json.dumps(sentence, ensure_ascii=False)[1:-1]):
            pattern = _GAP.join(re.escape(word) for word in form.split())
            content = re.sub(pattern, REDACTED, content)
    return content


def _words(memory: Chunk) -> str:
    """What a memory was made from, as it stands in the raw item."""
    text = without_speaker(memory.text, memory.speaker)
    return strip_resolved_dates(f"{text} {memory.metadata.get('said', '')}".strip())
