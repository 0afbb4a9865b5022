"""Supersession without a model: which sentences of older memories a newer memory replaces.

A sentence is about its first name (its subject), after any fronted phrase ("At Zorblat, Mira
..." is about Mira); said in the first person ("I moved to Riga") it is about its speaker, and
starting with He, She or They about the subject of the sentence before it in the same text. "Mira"
and "Mira Quenton" are one person; "Mira Holm" and "Mira Quenton" are two, and "Mira's brother" is
not Mira. A newer sentence about the same subject replaces an older one when
- it states a change away from something the older one said: "In 2021, Mira moved from Tallinn
  to Riga." replaces "Mira lives in Tallinn." (a `from X to Y` change naming the old value), or
- it says the same thing with other names or numbers: "Mira lives in Riga." replaces "Mira lives
  in Tallinn." (the same sentence once names and numbers are masked), or
- it states an update the way people say one (UPDATES): "Ilse moved to Szeged two weeks ago."
  replaces "Ilse lives in Debrecen and teaches chemistry." (which now says "Ilse lives in Szeged
  and teaches chemistry."); "now works at", "took a job at", "is no longer", "changed her name to",
  "sold the car" likewise.
Only the sentence is replaced, not the whole memory: "Mira works at Zorblat. Mira lives in
Tallinn." keeps its first fact. Replaced sentences stay stored, for history and for questions
about the past; answers about the present see what the sentence says now ("Mira lives in Riga.")
in its place: a small reader that finds no such sentence grabs a look-alike about someone else. A
teacher model would catch far more ("she relocated", "no longer works there" about a pronoun);
these rules are the ones that rarely misfire.
"""

import functools
import re
from dataclasses import dataclass

from .entities import extract_entities
from .sentences import split_sentences
from .words import STOPWORDS

_CHANGE = re.compile(r"\bfrom (?P<old>[^,;]+?) to (?P<new>[^,;]+?)(?=[,;.!?]?\s*$|[,;])", re.IGNORECASE)
_FRONTED = re.compile(
    r"^(?:at|in|on|for|from|with|after|before|during|since|by|under|near)\b[^,]{1,60},\s*", re.IGNORECASE
)
_NUMBER = re.compile(r"\b\d[\d,.:/-]*\b")
_NOW = re.compile(r"\b(now|currently|current|these days|at the moment|at present|nowadays|still|latest)\b", re.I)
_PAST = re.compile(
    r"\b(used to|before|previously|formerly|originally|at first|earlier|former|in the past)\b", re.IGNORECASE
)


_VALUE = r"(?:the\s+)?(?P<value>[A-Z][\w'’-]*(?:\s+(?:[A-Z][\w'’-]*|of|de|del|van|von))*)"
_FIRST_PERSON = re.compile(r"^(?:[^,.]{0,25},\s*)?(?:I\b|I['’]|[Ww]e\b|[Ww]e['’]|[Mm]y (?:name|home|job)\b)")
_PRONOUN = re.compile(r"^(?:[^,.]{0,25},\s*)?(?:He|She|They)\b")
_THING = r"(?:(?:a|an|the|his|her|their|my|our|its)\s+)?(?P<thing>[A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*)?)"


@dataclass(frozen=True)
class Update:
    """One way people state a change (`new`), and what it replaces in an older sentence (`old`).
    With `substitute`, the older sentence keeps its other facts and gets the new value; otherwise
    what it says now is the newer sentence."""

    name: str
    new: re.Pattern
    old: re.Pattern
    substitute: bool = True


def _words(pattern: str) -> re.Pattern:
    """Case matters where a value is a name (capitalised); a thing is any word."""
    return re.compile(pattern, re.IGNORECASE if "(?P<value" not in pattern else 0)


UPDATES = (
    Update(
        "residence",
        _words(
            r"\b(?:[Mm]oved|[Rr]elocated|[Hh]as moved|[Hh]ave moved|[Ii]s moving|[Ww]ent back)\s+(?:back\s+)?to\s+"
            + _VALUE
            + r"|\b(?:now|currently)\s+(?:lives?|resides?|is based|am based)\s+in\s+"
            + _VALUE.replace("value", "value2")
            + r"|\b(?:is|am|are)\s+(?:now|currently)\s+(?:based|living)\s+in\s+"
            + _VALUE.replace("value", "value3")
        ),
        _words(
            r"\b(?:lives?|lived|resides?|is based|am based|settled|ha(?:s|ve) lived|home is|moved|relocated)"
            r"\s+(?:in|to)\s+" + _VALUE
        ),
    ),
    Update(
        "employer",
        _words(
            r"\b(?:now|currently)\s+works?\s+(?:at|for)\s+"
            + _VALUE
            + r"|\b(?:started (?:working )?at|took a job at|was hired by|moved to a job at)\s+"
            + _VALUE.replace("value", "value2")
        ),
        _words(
            r"\b(?:works?|worked|is employed|was employed|ha(?:s|ve) a job|got a job|started working)\s+"
            r"(?:at|for|by)\s+"
            + _VALUE
            # "works as a biologist at X", "works in Gdansk at X": the employer after the role or place
            + r"|\bworks?\s+(?:as|in)\b[^.,;]{1,40}?\s+at\s+"
            + _VALUE.replace("value", "value2")
        ),
    ),
    Update(
        "name",
        _words(
            r"\bchanged (?:his|her|their|my) (?:last |first |sur)?name to\s+"
            + _VALUE
            + r"|\bnow go(?:es)? by\s+"
            + _VALUE.replace("value", "value2")
        ),
        _words(r"\b(?:name is|is called|goes by)\s+" + _VALUE),
    ),
    Update(
        "possession",
        _words(r"\b(?:sold|gave away|lost|no longer has|got rid of|scrapped)\s+" + _THING),
        _words(r"\b(?:has|have|owns?|bought|got|drives?|keeps?)\s+" + _THING),
        substitute=False,
    ),
    Update(
        "negation",
        _words(
            r"\b(?:is|was|am|['’]m) no longer\s+"
            + _THING
            + r"|\bno longer (?:works?|lives?|plays?|teach(?:es)?|stud(?:y|ies))\s+(?:at|in|for)?\s*"
            + _THING.replace("thing", "thing2")
        ),
        _words(r"(?:\b(?:is|am|works as|plays|teaches|studies|works at|lives in)|['’]m)\s+" + _THING),
        substitute=False,
    ),
)


def _group(match: re.Match, name: str) -> str | None:
    found = [value for key, value in match.groupdict().items() if key.startswith(name) and value]
    return found[0].strip() if found else None


def _updated(new: str, old: str) -> str | None:
    """What `old` says now, if `new` states an update of the kind it describes (UPDATES)."""
    for update in UPDATES:
        stated = update.new.search(new)
        held = update.old.search(old) if stated else None
        if not held:
            continue
        if update.substitute:
            value, before = _group(stated, "value"), _group(held, "value")
            if value and before and value.lower() != before.lower():
                start, end = held.span(
                    next(key for key, found in held.groupdict().items() if key.startswith("value") and found)
                )
                return old[:start] + value + old[end:]
        elif _head(_group(held, "thing")) in (_group(stated, "thing") or "").lower().split():
            return new
    return None


def _head(phrase: str | None) -> str | None:
    """The thing a short phrase names: its last word before a stopword ("red car in" -> "car", "cat
    named" -> "cat")."""
    words = []
    for word in (phrase or "").lower().split():
        if word in STOPWORDS or word in ("named", "called"):
            break
        words.append(word)
    return words[-1] if words else None


@dataclass(frozen=True)
class Statement:
    sentence: str
    subject: str | None
    shape: str  # the sentence with its names and numbers masked
    values: tuple[str, ...]  # its names and numbers


@functools.lru_cache(maxsize=8192)
def statements(text: str, speaker: str | None = None) -> tuple[Statement, ...]:
    """A text's sentences with their subjects (`speaker`: who said it, the subject of "I ...").
    Cached: ingest compares each new memory with up to 200 older ones about the same name, and
    finding names is the costly part (without the cache, a document naming the same two people in
    3,000 sentences took minutes: quadratic)."""
    found: list[Statement] = []
    for sentence in split_sentences(text):
        names = extract_entities(sentence)
        shape = sentence.lower()
        for name in sorted(names, key=len, reverse=True):
            shape = shape.replace(name, "<name>")
        shape = _NUMBER.sub("<number>", shape).rstrip(".!? ")
        before = found[-1].subject if found else None
        found.append(
            Statement(
                sentence, _subject(sentence, names, speaker, before), shape, tuple(names + _NUMBER.findall(sentence))
            )
        )
    return tuple(found)


def _subject(sentence: str, names: list[str], speaker: str | None, before: str | None) -> str | None:
    """Who a sentence is about: its speaker when said in the first person, the subject before it
    for He, She or They, else the first name after a fronted phrase ("At Ulfalo Works, Ruti has a
    job" is about Ruti, and must not replace "At Ulfalo Works, Suko has a job"); no one for "Mira's
    brother ..."."""
    fronted = _FRONTED.match(sentence)
    rest = sentence[fronted.end() :] if fronted else sentence
    if _FIRST_PERSON.match(rest):
        return speaker
    if _PRONOUN.match(rest):
        return before
    first = ((extract_entities(rest) if fronted else names) or names or [None])[0]
    at = rest.lower().find(first) if first is not None else -1
    if at >= 0 and re.match(r"['’]s\b", rest[at + len(first) :]):
        return None
    return first


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two subjects name one person: equal, or one is the first name of the other."""
    if a is None or b is None:
        return False
    x, y = a.lower().split(), b.lower().split()
    if x == y:
        return True
    return (len(x) == 1 or len(y) == 1) and x[0] == y[0]


def replaced(
    newer: str, older: str, newer_speaker: str | None = None, older_speaker: str | None = None
) -> list[tuple[str, str]]:
    """(sentence of `older` that `newer` replaces, what it says now) pairs; the speakers are who said
    each (a conversation turn's), the subjects of their first-person sentences."""
    out: list[tuple[str, str]] = []
    for new in statements(newer, newer_speaker):
        if new.subject is None:
            continue
        change = _CHANGE.search(new.sentence)
        for old in statements(older, older_speaker):
            if not same_person(old.subject, new.subject) or old.sentence in dict(out) or _CHANGE.search(old.sentence):
                continue
            if change and change.group("old").strip().lower() in old.sentence.lower():
                pattern = re.compile(re.escape(change.group("old").strip()), re.IGNORECASE)
                out.append((old.sentence, pattern.sub(change.group("new").strip(), old.sentence)))
            elif not change and old.shape == new.shape and old.values != new.values:
                out.append((old.sentence, new.sentence))
            elif not change and (now := _updated(new.sentence, old.sentence)) is not None:
                out.append((old.sentence, now))
    return out


def as_of_now(text: str) -> str:
    """A change stated as where it ended: "moved from Tallinn to Riga" -> "moved to Riga" (a
    small reader otherwise answers with the first place it sees)."""
    return _CHANGE.sub(lambda match: f"to {match.group('new')}", text)


def asks_about_now(question: str) -> bool:
    """Questions such as "Where does Mira live now?" want the newest statement most of all."""
    return bool(_NOW.search(question))


def asks_about_the_past(question: str) -> bool:
    """Questions such as "Where did Mira live before?" want the replaced sentences too."""
    return bool(_PAST.search(question))
