"""Words of English text: function words (left out of keyword queries, information counts and
entity names), and whether an answer is said in a text word for word."""

import re

STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be been before being below between
    both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their theirs them themselves then there these they this
    those through to too under until up very was we were what when where which while who whom why
    will with would you your yours yourself""".split()
)


def normal_words(text: str) -> str:
    """The text's words, lower case, one space apart: text compared without case or punctuation."""
    return " ".join(re.findall(r"\w+", text.lower()))


def found_in(answer: str, texts: list[str]) -> bool:
    """Whether the answer, as words, is a run of words in one of the texts (case and punctuation aside)."""
    words = normal_words(answer)
    return bool(words) and any(f" {words} " in f" {normal_words(text)} " for text in texts)


_IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def identifier_parts(word: str) -> list[str]:
    """The words an identifier is made of (`parseConfigFile`, `parse_config_file` -> parse config
    file, `HTTPServer` -> http server); [] for a plain word."""
    parts = [p.lower() for piece in word.split("_") for p in _PART.findall(piece)]
    return parts if len(parts) > 1 else []


def with_identifier_parts(text: str) -> str:
    """The text followed by the parts of each compound identifier in it: what the keyword index holds,
    so code is found by the words its names are made of."""
    parts = [p for word in dict.fromkeys(_IDENTIFIER.findall(text)) for p in identifier_parts(word)]
    return f"{text}\n{' '.join(parts)}" if parts else text
