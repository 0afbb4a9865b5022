"""Model-free entity mentions: runs of capitalised words (with the small joining words names use),
lower-cased. They are the nodes that connect memories in the graph (recall/graph.py), so a
question about "the director of Titanic" reaches the passage about the director through the
passage about the film. Crude next to a tagger, but offline, fast, and the same on both sides.
"""

import re

from .words import STOPWORDS

_JOINERS = {"of", "the", "de", "del", "der", "van", "von", "da", "di", "du", "la", "le", "and", "&", "y"}
# Month and day names are capitalised but name no one: "In May 2005, she released ..." would make
# "may" the subject of a passage, and one step over the graph would lead from every date to it. A
# month that starts a longer run may be a first name ("May Lin"); a weekday is not.
_MONTHS = set("january february march april may june july august september october november december".split())
_WEEKDAYS = set("monday tuesday wednesday thursday friday saturday sunday".split())
_TOKEN = re.compile(r"[\w'’.-]+|[^\w\s]")  # words, and the punctuation that ends a name


def extract_entities(text: str) -> list[str]:
    """The names in `text`, in order of first mention, each once."""
    found: dict[str, None] = {}
    run: list[str] = []

    def close() -> None:
        while run and run[-1].lower() in _JOINERS:  # "Bank of" -> "Bank"
            run.pop()
        while run and (run[0].lower() in STOPWORDS or run[0].lower() in _WEEKDAYS):  # "The", "In", "Monday"
            run.pop(0)
        if len(run) == 1 and run[0].lower().rstrip(".") in _MONTHS:  # "In May 2000"
            run.clear()
        name = re.sub(r"['’]s$", "", " ".join(run)).strip(".-'’").lower()  # "Mira's" -> "mira"
        if name and name not in STOPWORDS and not name.isdigit() and len(name) > 1:
            found[name] = None
        run.clear()

    for token in _TOKEN.findall(text):
        if token[0].isupper():
            run.append(token)
            if token.endswith(".") and len(token) > 3:  # a sentence ends inside the run
                close()
        elif run and token.lower() in _JOINERS:
            run.append(token)
        else:
            close()
    close()
    return list(found)


def names_within(text: str) -> set[str]:
    """The names in `text` and the names a joining word links inside them: "trent reznor of nine
    inch nails" is also "trent reznor" and "nine inch nails"."""
    found: set[str] = set()
    for name in extract_entities(text):
        found.add(name)
        parts = re.split(rf"\s+(?:{'|'.join(map(re.escape, _JOINERS))})\s+", name)
        found |= {part for part in parts if len(parts) > 1 and part not in STOPWORDS and len(part) > 1}
    return found


def question_names(question: str, longest: int = 4) -> set[str]:
    """Names a question may mention: its capitalised runs and every lower-cased 1-4 word span
    (users type "who founded zorblat"), to be looked up among the entities the space knows."""
    words = [w.strip(".,?!;:\"'()") for w in question.lower().split()]
    words = [w for w in words if w]
    spans = {" ".join(words[i : i + n]) for n in range(1, longest + 1) for i in range(len(words) - n + 1)}
    return set(extract_entities(question)) | {s for s in spans if s not in STOPWORDS}
