"""Whether an answer comes from the memories it was read from: content words none of them says
(a small reader invents), or a person's answer taken from someone else's words."""

import re

from ..records import Chunk
from ..text.entities import extract_entities
from ..text.question import Question
from ..text.salience import content_words

ABSTENTION_WORDS = frozenset({"unknown", "none", "nothing", "mentioned", "information"})  # "unknown", "not mentioned"
YES_NO = frozenset({"yes", "no"})  # an answer, though no memory spells it


def unsupported(answer: str, shown: list[Chunk], question: Question | None = None) -> str | None:
    """Why the reader's answer is not an answer from these memories, if it is not: it says it does
    not know, it says things (content words) none of them contains, or it names someone or something
    neither they nor the question mention ("The Norwegian company, Sea-Doo."). Yes/no answers pass."""
    words = content_words(answer) - YES_NO
    if not words or not words - ABSTENTION_WORDS:
        return "the reader found no answer in the memories" if words & ABSTENTION_WORDS else None
    known = set().union(*(_stems(m.text) for m in shown))
    if not {_stem(w) for w in words} & known:
        return f"the reader answered {answer!r}, which no memory it was shown says"
    said = " ".join([m.text for m in shown] + [question.text if question else ""]).lower()
    invented = [name for name in _names(answer) if not all(part in said for part in name.split())]
    if invented:
        return f"the reader answered {answer!r}, naming {invented[0]!r}, which no memory it was shown mentions"
    return None


def _names(answer: str) -> list[str]:
    """The names an answer gives; its first word counts only when it is capitalised inside a name
    too ("LGBTQ", "Sea-Doo"), not as the start of a sentence."""
    if len(answer) > 1 and answer[0].isupper() and not answer[1].isupper() and "-" not in answer.split(maxsplit=1)[0]:
        answer = answer[0].lower() + answer[1:]
    return extract_entities(answer)


def misattributed(answer: str, question: Question, shown: list[Chunk]) -> str | None:
    """Why the answer is someone else's, if it is: the question asks about one of the people who speak
    in these memories, and the memories that say the answer were said by others and do not name
    that person. A reader answers "What is Caroline's bowl a reminder of?" from Melanie's words about
    her own bowl (LoCoMo's adversarial questions); what B says about A names A, or is A's own turn."""
    speakers = {m.speaker.lower() for m in shown if m.speaker}
    asked = [name for name in question.names if any(_is_person(name, s) for s in speakers)]
    words = {_stem(w) for w in content_words(answer) - YES_NO - ABSTENTION_WORDS}
    if len(asked) != 1 or not words:
        return None
    name = asked[0]
    saying = [m for m in shown if 2 * len(words & _stems(m.text)) >= len(words)]
    if not saying or any(
        (m.speaker and _is_person(name, m.speaker.lower())) or re.search(rf"\b{re.escape(name)}\b", m.text.lower())
        for m in saying
    ):
        return None
    said_by = sorted({m.speaker for m in saying if m.speaker}) or ["someone else"]
    return f"the memories that say {answer!r} are {' and '.join(said_by)}'s words, and do not name {name}"


def _is_person(name: str, speaker: str) -> bool:
    """'caroline' is the speaker 'caroline' or 'caroline smith'."""
    return name == speaker or name in speaker.split()


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in content_words(text)}


def _stem(word: str) -> str:
    """Five letters are enough to match "teacher" with "teaches" and "moved" with "moving"."""
    return word[:5]
