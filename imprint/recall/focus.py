"""Keep a small reader on the question's subject: retrieved memories about other people go.

A 270M reader copies whatever "lives in" is nearest: with five memories in the prompt it answered
"Where does X live now?" from someone else's memory in 4 of 10 cases (benchmarks/temporal.py).
When some retrieved memories mention a name from the question, the prompt keeps those, plus the
memories that mention a name they mention (one hop: "the company X works for" reaches the
company's own memory), and drops the rest. With no name in common, nothing is dropped.
Conversation turns always stay: their subject is "I" or "you" (on LoCoMo, dropping turns that
named no one in the question cost answer F1).
"""

from ..encode.entities import extract_entities, question_names
from ..encode.supersede import asks_about_now
from ..records import Chunk


def focus(memories: list[Chunk], question: str) -> list[Chunk]:
    asked = question_names(question)
    names = {m.id: set(extract_entities(m.text)) for m in memories}
    about = [m for m in memories if names[m.id] & asked]
    if not about:
        return memories
    reached = set().union(*(names[m.id] for m in about))
    about_ids = {m.id for m in about}
    nearby = [m for m in memories if m.id not in about_ids and (m.speaker or names[m.id] & reached)]
    if asks_about_now(question):  # the newest memory about the subject first of all: the prompt is
        newest = max(about, key=lambda m: m.time or "")  # written in reverse, so it is read last
        about = [newest] + [m for m in about if m is not newest]
    return about + nearby  # best first: the memories about the question lead
