"""The reader's words cut to the answer the question asks for: a date for "when", a number for "how
many", yes or no first, one short span otherwise. A small reader copies the turn it read ("I went to
the support group yesterday [7 May 2023] and it was so powerful.") where the answer is "7 May 2023";
the words it wrote stay on the answer (`Answer.said`).
"""

import re

from ..records import Chunk
from ..text.dates import parse_time
from ..text.question import Question
from ..text.salience import content_words
from ..text.words import STOPWORDS

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_RESOLVED = re.compile(r"\[([^\[\]]*\d{4})\]")  # "yesterday [7 May 2023]": the date a phrase meant
_DATE = re.compile(
    rf"\b(?:(?:the )?(?:week|weekend|month|year|day|\w+day)s? (?:before|after) )?"
    rf"(?:\d{{1,2}} (?:{_MONTHS}),? \d{{4}}|(?:{_MONTHS}) \d{{1,2}},? \d{{4}}|(?:{_MONTHS}),? \d{{4}}"
    rf"|(?:19|20)\d{{2}})\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a few|several|a couple"
_NUMBER = re.compile(rf"\b(?:\d+(?:[.,]\d+)?|{_NUMBER_WORDS})\b(?: (\w+))?", re.IGNORECASE)
_UNITS_ASKED = re.compile(r"^\s*how (long|old|far|often)\b", re.IGNORECASE)
_SPEAKER = re.compile(r"^[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?:\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
_SUBJECTS = {
    "i",
    "i'm",
    "i've",
    "i'd",
    "we",
    "we're",
    "we've",
    "he",
    "he's",
    "she",
    "she's",
    "they",
    "they're",
    "they've",
    "it",
    "it's",
    "that",
    "this",
    "my",
    "our",
    "his",
    "her",
    "their",
}


def shape(said: str, question: Question, shown: list[Chunk]) -> str:
    """The answer in the form `question` asks for, from what the reader `said` and the memories it
    was `shown` (a date a memory resolved, or the day it was said)."""
    text = _SPEAKER.sub("", said.strip().removeprefix("Answer:").strip())
    if question.kind == "list":  # every sentence may hold items: each one's span, joined as a list
        items = [_span(sentence, question) for sentence in _sentences(text)]
        return ", ".join(item for item in items if item) or said.strip()
    text = _first_sentence(text)
    if not text:
        return said.strip()
    if question.kind == "date":
        return _date(text, shown) or text
    if question.kind == "number":
        return _number(text, question) or text
    if question.kind == "yes/no":
        first = re.match(r"(yes|no)\b", text, re.IGNORECASE)
        return first.group(1).capitalize() if first else text
    return _span(text, question)


def _sentences(text: str) -> list[str]:
    return [s.strip().rstrip(".!?").strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _first_sentence(text: str) -> str:
    sentences = _sentences(text)
    return sentences[0] if sentences else ""


def _date(text: str, shown: list[Chunk]) -> str | None:
    """A date the answer gives (one a memory resolved first), else the date of the memory it copies."""
    if resolved := _RESOLVED.search(text):
        return resolved.group(1).strip()
    if named := _DATE.search(text):
        return named.group(0)
    source = _source(text, shown)
    if source is None:
        return None
    if resolved := _RESOLVED.search(source.text):
        return resolved.group(1).strip()
    day = parse_time(source.time)
    return f"{day.day} {day:%B} {day.year}" if day else None


def _source(text: str, shown: list[Chunk]) -> Chunk | None:
    """The memory the answer's words come from: the one sharing most of its content words (at least half)."""
    words = content_words(text)
    if not words:
        return None
    best = max(shown, key=lambda m: len(words & content_words(m.text)), default=None)
    return best if best is not None and 2 * len(words & content_words(best.text)) >= len(words) else None


def _number(text: str, question: Question) -> str | None:
    match = _NUMBER.search(text)
    if match is None:
        return None
    unit = match.group(1)
    keep_unit = unit and _UNITS_ASKED.search(question.text) and unit.lower() not in STOPWORDS
    return match.group(0) if keep_unit else match.group(0).removesuffix(f" {unit}" if unit else "")


def _span(text: str, question: Question) -> str:
    """The answer without the words that lead into it: its subject ("I", "Caroline") and the
    question's own words and stopwords before the first new word ("Caroline is single" -> "single")."""
    asked = {w.lower().strip("?,.!'\"") for w in question.text.split()} | set(question.names)
    words = text.split()
    start = 0
    while start < len(words) - 1:
        word = words[start].lower().strip(",.!?\"'")
        bare = re.sub(r"'s$", "", word)
        if word in _SUBJECTS or word in STOPWORDS or bare in asked or word in asked:
            start += 1
        else:
            break
    return " ".join(words[start:]).rstrip(",;:")
