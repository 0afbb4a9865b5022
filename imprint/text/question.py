"""A question read once: the names it mentions, whether it asks about now, the past or a named day,
and the form its answer takes. Routing, search, focus, grounding and the answer's shape all read
this one record instead of parsing the question again.
"""

import re
from dataclasses import dataclass
from datetime import date

from .dates import named_day
from .entities import extract_entities, question_names
from .supersede import asks_about_now, asks_about_the_past

KINDS = ("date", "number", "person", "place", "yes/no", "list", "free")
_AUXILIARIES = r"is|are|was|were|am|do|does|did|has|have|had|can|could|will|would|should|may|might|must"
_DATE = re.compile(r"^\s*(when\b|what (year|month|date|day|time)\b|which (year|month|day)\b|since when\b)", re.I)
_NUMBER = re.compile(r"^\s*(how (many|much|long|old|often|far)\b|what (number|percentage|age)\b)", re.I)
_PERSON = re.compile(r"^\s*(who|whom|whose)\b", re.I)
_PLACE = re.compile(r"^\s*(where\b|(in )?(what|which) (city|country|town|place|state)\b)", re.I)
_YES_NO = re.compile(rf"^\s*({_AUXILIARIES})\b", re.I)
_LIST = re.compile(r"^\s*what are\b|\b(list|name (all|some|the))\b", re.I)
_PLURAL_THING = re.compile(rf"^\s*(?:what|which) ((?:[\w+'-]+ ){{1,3}}?)(?:{_AUXILIARIES})\b", re.I)


@dataclass(frozen=True)
class Question:
    text: str
    names: tuple[str, ...]  # the capitalised names it mentions, in order (extract_entities)
    candidates: frozenset[str]  # every span that may be a name the space knows (question_names)
    about_now: bool  # "Where does Mira live now?"
    about_past: bool  # "Where did Mira live before?"
    day: date | None  # the day, month or year it names; None when it asks about now or names none
    kind: str  # the answer it wants, one of KINDS


def parse_question(text: str) -> Question:
    about_now = asks_about_now(text)
    return Question(
        text=text,
        names=tuple(extract_entities(text)),
        candidates=frozenset(question_names(text)),
        about_now=about_now,
        about_past=asks_about_the_past(text),
        day=None if about_now else named_day(text),
        kind=answer_kind(text),
    )


def answer_kind(text: str) -> str:
    """The form of the answer a question wants; "free" when nothing says."""
    if _DATE.search(text):
        return "date"
    if _NUMBER.search(text):
        return "number"
    if _PERSON.search(text):
        return "person"
    if _PLACE.search(text):
        return "place"
    if _YES_NO.search(text) and not re.search(r"\bor\b", text):  # "Did X go to A or B?" is a choice
        return "yes/no"
    if _LIST.search(text) or _asks_for_things(text):
        return "list"
    return "free"


def _asks_for_things(text: str) -> bool:
    """ "What activities does X do?", "What types of pottery have X made?": a plural noun asked for."""
    match = _PLURAL_THING.search(text)
    if not match:
        return False
    words = [w for w in match.group(1).lower().split() if not re.fullmatch(_AUXILIARIES, w)]
    return any(w.endswith("s") and not w.endswith(("ss", "us", "'s")) and len(w) > 3 for w in words) or any(
        w in ("people", "children") for w in words
    )
