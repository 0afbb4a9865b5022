"""Training data from memories: many phrasings of each fact, and a held-out probe set.

A fact seen in one phrasing is learned as a string, not as a fact, so each answerable span of a
memory (a name, a place, a date, a number) becomes several questions: a wh-question that replaces
the span, a fill-in-the-blank, and a restatement. One phrasing family per span is never trained on:
it is the probe that tells whether the adapter learned the fact or only the training strings.

Two generators with one method, `synthesize(memories) -> TrainingData`: the model-free
TemplateSynthesizer (deterministic for a seed, offline) and the TeacherSynthesizer, where a model
(local, or any OpenAI-compatible server) writes question-answer pairs from each memory on top.
"""

import random
import re
from dataclasses import dataclass
from typing import Callable, Protocol

from ..encode.chunk import split_sentences, without_speaker
from ..encode.words import found_in, normal_words
from ..records import Chunk, TextModel


@dataclass(frozen=True)
class QA:
    question: str
    answer: str
    memory_id: int
    kind: str  # "wh" | "cloze" | "restate" | "teacher" | "probe" | "replay"


@dataclass
class TrainingData:
    train: list[QA]
    probe: list[QA]


_YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DATE = rf"(?:\d{{1,2}} {_MONTH},? {_YEAR}|{_MONTH} \d{{1,2}},? {_YEAR}|{_MONTH} {_YEAR}|\d{{4}}-\d{{2}}-\d{{2}}|{_YEAR})"
_NAME = r"(?:[A-Z][\w'’-]+(?: (?:of |de |van |von |the )?[A-Z][\w'’-]+)*)"
_NUMBER = r"(?:\d+(?:[.,]\d+)*(?: ?%| percent)?)"
_SPAN = re.compile(rf"(?P<date>{_DATE})|(?P<name>{_NAME})|(?P<number>{_NUMBER})")
_PLACE_BEFORE = re.compile(r"\b(?:in|to|at|from|near|into|of)\s+(?:the\s+)?$", re.I)
_SKIP_NAMES = {"I", "The", "A", "An", "It", "He", "She", "They", "We", "You", "This", "That", "My", "Our",
               "His", "Her", "Their", "There", "In", "On", "At", "And", "But", "So", "Yes", "No", "Oh", "Hey"}


def _spans(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of answerable spans: dates, numbers, and names (not a bare sentence opener)."""
    spans = []
    for match in _SPAN.finditer(sentence):
        kind = match.lastgroup
        text = match.group()
        if kind == "name":
            words = text.split()
            if words[0] in _SKIP_NAMES:
                if len(words) == 1:
                    continue
                start = match.start() + len(words[0]) + 1
                spans.append((start, match.end(), kind))
                continue
        spans.append((match.start(), match.end(), kind))
    return spans


def _wh_word(sentence: str, start: int, kind: str) -> str:
    if kind == "date":
        return "what year" if re.search(r"\b(?:in|of|since|until|by)\s+$", sentence[:start]) else "when"
    if kind == "number":
        return "how many"
    if start == 0:
        return "who"
    return "where" if _PLACE_BEFORE.search(sentence[:start]) else "what"


def _questions(sentence: str, start: int, end: int, kind: str) -> dict[str, list[str]]:
    """Phrasings by family for the span sentence[start:end]."""
    before, after = sentence[:start], sentence[end:].rstrip(" .!?")
    wh = _wh_word(sentence, start, kind)
    if wh == "who":
        echo = f"Who{after}?"
    else:
        echo = f"{before}{wh}{after}?".strip()
        echo = echo[0].upper() + echo[1:]
    blank = f"{before}___{after}.".strip()
    label = {"when": "date", "what year": "year", "how many": "number", "who": "person", "where": "place"}.get(wh, "name")
    return {
        "wh": [echo, f"Tell me: {echo}", f"Do you remember this? {echo}"],
        "cloze": [f"Fill in the blank: {blank}", f"Complete with the missing {label}: {blank}"],
        "probe": [f"Which {label} completes this: {blank}", f"From what you know: {echo}"],
    }


class TemplateSynthesizer:
    """Model-free question-answer pairs from the spans of each memory's sentences."""

    def __init__(self, seed: int = 0, per_span: int = 4) -> None:
        self.seed = seed
        self.per_span = per_span

    def synthesize(self, memories: list[Chunk]) -> TrainingData:
        rng = random.Random(self.seed)
        train, probe = [], []
        for memory in memories:
            text = without_speaker(memory.text, memory.speaker)
            if memory.speaker:
                text = third_person(text, memory.speaker)
            for sentence in split_sentences(text):
                sentence = sentence.strip()
                for start, end, kind in _spans(sentence):
                    answer = sentence[start:end]
                    families = _questions(sentence, start, end, kind)
                    trained = families["wh"] + families["cloze"]
                    for question in rng.sample(trained, min(self.per_span, len(trained))):
                        train.append(QA(question, answer, memory.id, "wh" if question in families["wh"] else "cloze"))
                    probe.append(QA(rng.choice(families["probe"]), answer, memory.id, "probe"))
                # restatement: the sentence itself, so the fact is also seen as plain text
                train.append(QA(f"What do you remember about {_topic(sentence)}?", sentence, memory.id, "restate"))
        rng.shuffle(train)
        return TrainingData(train=train, probe=probe)


def third_person(text: str, speaker: str) -> str:
    """'I adopted my cat' said by Ana becomes 'Ana adopted Ana's cat': the fact without the turn."""
    text = re.sub(r"\b(?:I|me)\b", speaker, text)
    return re.sub(r"\b(?:my|My|mine)\b", f"{speaker}'s", text)


def _topic(sentence: str) -> str:
    spans = [sentence[s:e] for s, e, kind in _spans(sentence) if kind == "name"]
    return spans[0] if spans else sentence.split()[0]


class Synthesizer(Protocol):
    def synthesize(self, memories: list[Chunk]) -> TrainingData: ...


TEACHER_PROMPT = """Write questions a reader can answer from the passage, each with a short answer copied from it.

Passage: Lena Ortiz opened a bakery in Porto in 2015. Her sister Ana runs it now.
Q: Who opened a bakery in Porto?
A: Lena Ortiz
Q: In which city is Lena Ortiz's bakery?
A: Porto
Q: When did Lena Ortiz open her bakery?
A: 2015
Q: Who runs Lena Ortiz's bakery today?
A: Ana

Passage: {passage}
Q:"""
_PAIR = re.compile(r"^\s*Q:\s*(?P<q>.+?)\s*\n\s*A:\s*(?P<a>.+?)\s*$", re.M)


class TeacherSynthesizer:
    """A teacher model writes question-answer pairs per memory; only pairs whose answer is found in
    the memory are kept (a small teacher invents things). One kept pair per memory joins the probe.
    The template pairs are added too: the teacher adds phrasings, it does not replace them."""

    def __init__(self, teacher: TextModel, seed: int = 0, max_new_tokens: int = 160,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.teacher = teacher
        self.templates = TemplateSynthesizer(seed)
        self.max_new_tokens = max_new_tokens
        self.progress = progress

    def pairs(self, memory: Chunk) -> list[tuple[str, str]]:
        """The teacher's grounded (question, answer) pairs for one memory, duplicates removed."""
        text = f"Q:{self.teacher.generate(TEACHER_PROMPT.format(passage=memory.text), self.max_new_tokens, stop='Passage:').text}"
        found, seen = [], set()
        for match in _PAIR.finditer(text):
            question, answer = match["q"], match["a"]
            if len(answer.split()) > 12 or not found_in(answer, [memory.text]) or normal_words(question) in seen:
                continue
            seen.add(normal_words(question))
            found.append((question, answer))
        return found

    def synthesize(self, memories: list[Chunk]) -> TrainingData:
        data = self.templates.synthesize(memories)
        for done, memory in enumerate(memories, 1):
            pairs = self.pairs(memory)
            if len(pairs) > 1:
                question, answer = pairs.pop()
                data.probe.append(QA(question, answer, memory.id, "probe"))
            data.train += [QA(q, a, memory.id, "teacher") for q, a in pairs]
            if self.progress:
                self.progress(done, len(memories))
        random.Random(self.templates.seed).shuffle(data.train)
        return data
