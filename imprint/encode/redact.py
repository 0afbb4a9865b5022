"""Take a forgotten memory's words out of the raw item it came from, when the item stays.

Forgetting one memory of a long document must not leave its text in the kept original. The item
stays (its other memories still point to it), minus every sentence of the forgotten memory that
no surviving memory of the same item still holds (chunks overlap, so a boundary sentence can
belong to both). Conversation items are stored as JSON, so sentences are also matched in their
JSON-escaped form. The original file bytes cannot be edited reliably (PDF, HTML), so they go.
"""

import json
import re

from ..records import Chunk
from .chunk import split_sentences, without_speaker

REDACTED = "[forgotten]"
_GAP = r"(?:\s|\\[nrt])+"  # whitespace, or its JSON escape


def redact(content: str, forgotten: Chunk, kept: list[Chunk]) -> str:
    still_held = " ".join(without_speaker(chunk.text, chunk.speaker) for chunk in kept)
    for sentence in split_sentences(without_speaker(forgotten.text, forgotten.speaker)):
        if sentence in still_held:
            continue
        for form in (sentence, json.dumps(sentence, ensure_ascii=False)[1:-1]):
            pattern = _GAP.join(re.escape(word) for word in form.split())
            content = re.sub(pattern, REDACTED, content)
    return content
