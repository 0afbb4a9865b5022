"""Keep a small reader on the question's subject: retrieved memories about other people go.

A 270M reader copies whatever "lives in" is nearest: with five memories in the prompt it answered
"Where does X live now?" from someone else's memory in 4 of 10 cases (benchmarks/temporal.py).
When some retrieved memories mention a name from the question, the prompt keeps those, plus the
memories *about* a name they mention (one hop over the graph's relation, recall/graph.py: "the
company X works for" reaches the company's own memory, whose subject is the company, but not X's
colleagues, who only mention it), and drops the rest. With no name in common, nothing is dropped.
(Any shared name counted as a hop while names ran on across commas; once they were cut at
punctuation, colleagues crowded the prompt: 210 memories instead of 144 for 60 world questions.)
Conversation turns always stay: their subject is "I" or "you" (on LoCoMo, dropping turns that
named no one in the question cost answer F1).
"""

from ..records import Chunk
from ..text.entities import extract_entities
from ..text.question import Question


def focus(memories: list[Chunk], question: Question) -> list[Chunk]:
    asked = question.candidates
    names = {m.id: extract_entities(m.text) for m in memories}  # in order: the first is the subject
    about = [m for m in memories if asked.intersection(names[m.id])]
    if not about:
        return memories
    reached = set().union(*(names[m.id] for m in about))
    about_ids = {m.id for m in about}
    nearby = [
        m for m in memories if m.id not in about_ids and (m.speaker or (names[m.id] and names[m.id][0] in reached))
    ]
    if question.about_now:  # the newest memory about the subject first of all: the prompt is
        newest = max(about, key=lambda m: m.time or "")  # written in reverse, so it is read last
        about = [newest] + [m for m in about if m is not newest]
    return about + nearby  # best first: the memories about the question lead
