"""Model-free entity mentions: runs of capitalised words (with the small joining words names use),
lower-cased. They are the nodes that connect memories in the graph (recall/graph.py), so a
question about "the director of Titanic" reaches the passage about the director through the
passage about the film. Crude next to a tagger, but offline, fast, and the same on both sides.
"""

import re

from .words import STOPWORDS

_JOINERS = {"of", "the", "de", "del", "der", "van", "von", "da", "di", "du", "la", "le", "and", "&", "y"}
_TOKEN = re.compile(r"[\w'’.-]+|[^\w\s]")  # words, and the punctuation that ends a name


def extract_entities(text: str) -> list[str]:
    """The names in `text`, in order of first mention, each once."""
    found: dict[str, None] = {}
    run: list[str] = []

    def close() -> None:
        while run and run[-1].lower() in _JOINERS:  # "Bank of" -> "Bank"
            run.pop()
        while run and run[0].lower() in STOPWORDS:  # a sentence's first word: "The", "In", "She"
            run.pop(0)
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


def question_names(question: str, longest: int = 4) -> set[str]:
    """Names a question may mention: its capitalised runs and every lower-cased 1-4 word span
    (users type "who founded zorblat"), to be looked up among the entities the space knows."""
    words = [w.strip(".,?!;:\"'()") for w in question.lower().split()]
    words = [w for w in words if w]
    spans = {" ".join(words[i:i + n]) for n in range(1, longest + 1) for i in range(len(words) - n + 1)}
    return set(extract_entities(question)) | {s for s in spans if s not in STOPWORDS}
