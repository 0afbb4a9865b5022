"""What is not worth indexing: greetings, filler and one-word replies in conversations, and
repeats of a memory already held. Such text is still kept raw (and listed by `imprint dropped` with its reason); it
just does not become a searchable memory, so it never crowds out the ones that say something.
"""

import re

from .words import STOPWORDS

FILLER = frozenset(
    """ok okay k yes yeah yep yup no nope nah sure thanks thank thx ty please pls hi hello hey hiya bye
    goodbye cya lol haha hahaha hehe lmao omg wow oh ah hmm hm um uh cool nice great awesome good fine
    alright right indeed really totally exactly absolutely definitely agreed true morning night
    evening afternoon welcome sorry np glad sounds love like well yay""".split()
)


def content_words(text: str) -> set[str]:
    """The words that carry information: not stopwords, not filler; numbers count."""
    words = re.findall(r"\w+", text.lower())
    return {w for w in words if w not in STOPWORDS and w not in FILLER and (len(w) > 1 or w.isdigit())}


def low_information(found: set[str], minimum: int) -> str | None:
    """Why a text with these content words should not be indexed, or None if it should."""
    if len(found) < minimum:
        return f"low information: {len(found)} content word{'s' * (len(found) != 1)} (minimum {minimum})"
    return None
