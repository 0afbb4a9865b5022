"""Memories as of a day: each sentence a newer memory replaced shows what it says since.

A small reader that sees both "Mira lives in Tallinn." and "Mira moved to Riga." often answers
with the first; shown as of now, the older memory says "Mira lives in Riga." A question that names
a day ("in 2019") sees the memories as they were then; one about the past with no date ("before",
"used to") sees them as stored.
"""

import dataclasses
from datetime import date

from ..records import Chunk, Validity
from ..store.base import SpaceStore
from ..text.dates import parse_time, stated_day
from ..text.question import Question
from ..text.sentences import split_sentences
from ..text.supersede import as_of_now


def as_of(memories: list[Chunk], question: Question, store: SpaceStore) -> list[Chunk]:
    """The memories as the reader sees them for `question` (one about no day: as of now)."""
    when = question.day
    if when is None and question.about_past:
        return memories
    ids = [m.id for m in memories]
    replaced_in, changes = store.replaced_sentences(ids), store.superseding(ids)
    shown = []
    for memory in memories:
        text = memory.text
        for replacement in replaced_in.get(memory.id, []):
            if _happened_by(replacement.since, when):
                text = text.replace(replacement.sentence, replacement.now)
        if memory.id in changes and _happened_by(memory.time, when):  # a change told by its outcome
            text = as_of_now(text)
        text = " ".join(text.split())
        if text and text != f"{memory.speaker}:":
            shown.append(dataclasses.replace(memory, text=text))
    return shown


def validity(memory: Chunk, store: SpaceStore) -> list[Validity]:
    """Each sentence of a memory with when it held: from the memory's time (else the day its text
    names, else when it was added) until the newer memory that replaced it."""
    stated = stated_day(memory.time, memory.text)
    valid_from = memory.time or (stated.isoformat() if stated else memory.added_at)
    replacements = {r.sentence: r for r in store.replaced_sentences([memory.id]).get(memory.id, [])}
    out = []
    for sentence in split_sentences(memory.text):
        replacement = next((r for said, r in replacements.items() if said in sentence or sentence in said), None)
        if replacement is None:
            out.append(Validity(sentence, valid_from))
        else:
            out.append(Validity(sentence, valid_from, replacement.since, replacement.by, replacement.now))
    return out


def _happened_by(time: str | None, when: date | None) -> bool:
    """Whether something at `time` had happened by the day `when` (None: now); a time that cannot be
    read counts as having happened."""
    happened = parse_time(time)
    return when is None or happened is None or happened <= when
