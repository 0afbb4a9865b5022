"""Training data from memories: many phrasings of each fact, and a held-out probe set.

A fact seen in one phrasing is learned as a string, not as a fact (Physics of Language Models 3.1),
so each sentence becomes the questions people ask about it, in both directions of its relation
(questions.py), and each answerable span (a name, a place, a date, a number) a wh-question and a
fill-in-the-blank; the sentence itself is a restatement. Some rows carry memories in the prompt
(open-book, as in RAFT). One phrasing per fact is never trained on: the probe that tells whether
the adapter learned the fact or only the training strings.

Two generators with one method, `synthesize(memories) -> TrainingData`: the model-free
TemplateSynthesizer (deterministic for a seed, offline) and the TeacherSynthesizer, where a model
(local, or any OpenAI-compatible server) writes question-answer pairs from each memory on top.
"""

import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from ..records import Chunk, TextModel
from ..text.sentences import split_sentences, without_speaker
from ..text.words import found_in, normal_words
from .json_cache import read_json_cache, write_json_cache
from .questions import natural_questions


@dataclass(frozen=True)
class QA:
    question: str
    answer: str
    memory_id: int
    kind: str  # "natural" | "wh" | "cloze" | "restate" | "teacher" | "open-book" | "probe" | "replay"
    context: tuple[Chunk, ...] = ()  # open-book rows: the memories in the prompt, best first


@dataclass
class TrainingData:
    train: list[QA]
    probe: list[QA]


_YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DATE = (
    rf"(?:\d{{1,2}} {_MONTH},? {_YEAR}|{_MONTH} \d{{1,2}},? {_YEAR}|{_MONTH} {_YEAR}|\d{{4}}-\d{{2}}-\d{{2}}|{_YEAR})"
)
_NAME = r"(?:[A-Z][\w'’-]+(?: (?:of |de |van |von |the )?[A-Z][\w'’-]+)*)"
_NUMBER = r"(?:\d+(?:[.,]\d+)*(?: ?%| percent)?)"
_SPAN = re.compile(rf"(?P<date>{_DATE})|(?P<name>{_NAME})|(?P<number>{_NUMBER})")
_PLACE_BEFORE = re.compile(r"\b(?:in|to|at|from|near|into|of)\s+(?:the\s+)?$", re.I)
_SKIP_NAMES = {
    "I",
    "The",
    "A",
    "An",
    "It",
    "He",
    "She",
    "They",
    "We",
    "You",
    "This",
    "That",
    "My",
    "Our",
    "His",
    "Her",
    "Their",
    "There",
    "In",
    "On",
    "At",
    "And",
    "But",
    "So",
    "Yes",
    "No",
    "Oh",
    "Hey",
}


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
    label = {"when": "date", "what year": "year", "how many": "number", "who": "person", "where": "place"}.get(
        wh, "name"
    )
    return {
        "wh": [echo, f"Tell me: {echo}", f"Do you remember this? {echo}"],
        "cloze": [f"Fill in the blank: {blank}", f"Complete with the missing {label}: {blank}"],
        "probe": [f"Which {label} completes this: {blank}", f"From what you know: {echo}"],
    }


class TemplateSynthesizer:
    """Model-free question-answer pairs from each memory's sentences: natural questions in both
    directions of each relation (questions.py), template families around each answerable span, and
    open-book rows that carry memories in the prompt.

    The probe, one per fact, is a phrasing the training rows never use: a natural question with
    another question word ("Which person founded X?" where "Who founded X?" is trained), or, where no
    natural question exists, a cloze frame no training row has."""

    def __init__(self, seed: int = 0, per_span: int = 2, open_book: float = 0.5) -> None:
        self.seed = seed
        self.per_span = per_span
        self.open_book = open_book

    def synthesize(self, memories: list[Chunk]) -> TrainingData:
        rng = random.Random(self.seed)
        train, probe = [], []
        for memory in memories:
            text = without_speaker(memory.text, memory.speaker)
            if memory.speaker:
                text = third_person(text, memory.speaker)
            for sentence in split_sentences(text):
                sentence = sentence.strip()
                naturals = natural_questions(sentence)
                train += [QA(q, a, memory.id, "natural") for q, a in naturals]
                if naturals:
                    question, answer = rng.choice(naturals)
                    probe.append(QA(reworded(question), answer, memory.id, "probe"))
                for start, end, kind in _spans(sentence):
                    answer = sentence[start:end]
                    families = _questions(sentence, start, end, kind)
                    trained = families["wh"] + families["cloze"]
                    for question in rng.sample(trained, min(self.per_span, len(trained))):
                        train.append(QA(question, answer, memory.id, "wh" if question in families["wh"] else "cloze"))
                    if not naturals:
                        probe.append(QA(families["probe"][0], answer, memory.id, "probe"))
                # restatement: the sentence itself, so the fact is also seen as plain text
                train.append(QA(f"What do you remember about {_topic(sentence)}?", sentence, memory.id, "restate"))
        train += open_book_rows(train, memories, self.open_book, rng)
        rng.shuffle(train)
        return TrainingData(train=train, probe=probe)


_REWORDED = [
    ("In what year ", "Which year "),
    ("Where ", "In which place "),
    ("When ", "On what date "),
    ("Who ", "Which person "),
    ("What is the name of ", "What name does "),
    ("What ", "What, in short, "),
]


def reworded(question: str) -> str:
    """The same question with another question word: the probe's phrasing, never trained on."""
    for old, new in _REWORDED:
        if question.startswith(old):
            if new == "What name does ":
                return f"{new}{question[len(old) : -1]} have?"
            return new + question[len(old) :]
    return f"From what you know: {question}"


def open_book_rows(
    pairs: list[QA], memories: list[Chunk], share: float, rng: random.Random, distractors: int = 2
) -> list[QA]:
    """RAFT-style rows: the question with its memory and distractors in the prompt, and, for a third
    of them, a newer memory that says otherwise in place of it, whose answer is the target. The
    adapter learns to read as well as to recall, and that the prompt wins over what it was taught."""
    by_id = {m.id: m for m in memories}
    natural = [p for p in pairs if p.kind == "natural" and p.memory_id in by_id]
    if not natural or share <= 0:
        return []
    chosen = rng.sample(natural, min(len(natural), max(1, int(len(natural) * share))))
    rows = []
    for number, pair in enumerate(chosen):
        memory = by_id[pair.memory_id]
        others = rng.sample([m for m in memories if m.id != memory.id], min(distractors, len(memories) - 1))
        answer = pair.answer
        if number % 3 == 0 and pair.answer in memory.text:
            alternatives = [
                p.answer for p in natural if _shape(p.question) == _shape(pair.question) and p.answer != pair.answer
            ]
            if alternatives:
                answer = rng.choice(alternatives)
                memory = replace(
                    memory,
                    id=max(by_id) + 1 + number,
                    text=memory.text.replace(pair.answer, answer),
                    time=datetime.now(timezone.utc).date().isoformat(),
                )
        rows.append(QA(pair.question, answer, pair.memory_id, "open-book", tuple([memory] + others)))
    return rows


def _shape(question: str) -> str:
    """A question with its names blanked: questions of one shape have answers of one kind."""
    return question.split()[0] + re.sub(_NAME, "X", question.partition(" ")[2])


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
# An instruct teacher is asked one sentence at a time, with the whole memory beside it: asked for
# a whole passage at once, the 1.5B model repeated one pair until its budget ran out on long memories
TEACHER_INSTRUCTIONS = (
    "You write study questions about a passage. The user gives the passage and one sentence of it. Write two "
    "different questions that the sentence answers. Each question must make sense alone: it names who or what it "
    "is about and never says 'the passage'. Each answer is a short phrase copied word for word from the sentence. "
    "Write 'Q: question', then 'A: answer' on the next line, and nothing else."
)
_EXAMPLE_PASSAGE = "Lena Ortiz opened a bakery in Porto in 2015. Her sister Ana runs it now."
_EXAMPLE_SENTENCE = "Her sister Ana runs it now."
_EXAMPLE_REPLY = "Q: Who runs Lena Ortiz's bakery now?\nA: Ana\nQ: What is Ana's relation to Lena Ortiz?\nA: Her sister"
_PAIR = re.compile(r"^\s*Q:\s*(?P<q>.+?)\s*\n\s*A:\s*(?P<a>.+?)\s*$", re.M)


def _sentence_request(passage: str, sentence: str) -> str:
    return f"Passage: {passage}\n\nSentence: {sentence}"


class TeacherSynthesizer:
    """A teacher model writes question-answer pairs per memory; only pairs whose answer is found in
    the memory, and not already in the question, are kept (a small teacher invents things, and
    "What is Pauli repulsion?" - "Pauli repulsion" teaches nothing). One kept pair per memory joins
    the probe. The template pairs are added too: the teacher adds phrasings, it does not replace them.

    With a `cache_dir`, each memory's pairs are kept in a file named by its id (so forgetting it
    removes them) and a hash of its text and `teacher_name`: a retrain asks the teacher only about
    new or changed memories (the 1.5B model takes ~9 s per SQuAD passage on 2 cores)."""

    def __init__(
        self,
        teacher: TextModel,
        seed: int = 0,
        max_new_tokens: int = 160,
        open_book: float = 0.5,
        progress: Callable[[int, int], None] | None = None,
        cache_dir: Path | None = None,
        teacher_name: str = "",
    ) -> None:
        self.teacher = teacher
        self.templates = TemplateSynthesizer(seed, open_book=open_book)
        self.max_new_tokens = max_new_tokens
        self.progress = progress
        self.cache_dir = cache_dir
        self.teacher_name = teacher_name

    def pairs(self, memory: Chunk) -> list[tuple[str, str]]:
        """The teacher's grounded (question, answer) pairs for one memory, duplicates removed."""
        found, seen = [], set()
        for match in _PAIR.finditer("\n".join(self._replies(memory.text))):
            question, answer = match["q"], match["a"]
            if (
                len(answer.split()) > 12
                or not found_in(answer, [memory.text])
                or found_in(answer, [question])
                or normal_words(question) in seen
            ):
                continue
            seen.add(normal_words(question))
            found.append((question, answer))
        return found

    def cached_pairs(self, memory: Chunk) -> list[tuple[str, str]]:
        """`pairs(memory)`, read from the cache when the teacher already wrote them for this text."""
        if self.cache_dir is None:
            return self.pairs(memory)
        prompt = f"{TEACHER_INSTRUCTIONS}\n{_EXAMPLE_REPLY}" if self.teacher.instruct else TEACHER_PROMPT
        key = f"{self.teacher_name}\n{prompt}\n{memory.text}"
        file = self.cache_dir / f"{memory.id}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
        cached = read_json_cache(file)
        if cached is not None:
            return [tuple(pair) for pair in cached]
        pairs = self.pairs(memory)
        write_json_cache(file, pairs)
        return pairs

    def _replies(self, text: str) -> list[str]:
        """What the teacher wrote: for an instruct model a reply per sentence, for a base model one
        completion of the worked example."""
        if not self.teacher.instruct:
            return [
                "Q:"
                + self.teacher.generate(TEACHER_PROMPT.format(passage=text), self.max_new_tokens, stop="Passage:").text
            ]
        example = [
            {"role": "system", "content": TEACHER_INSTRUCTIONS},
            {"role": "user", "content": _sentence_request(_EXAMPLE_PASSAGE, _EXAMPLE_SENTENCE)},
            {"role": "assistant", "content": _EXAMPLE_REPLY},
        ]
        return [
            self.teacher.chat(
                example + [{"role": "user", "content": _sentence_request(text, sentence)}],
                self.max_new_tokens // 2,
                stop="Passage:",
            ).text
            for sentence in split_sentences(text)
        ]

    def synthesize(self, memories: list[Chunk]) -> TrainingData:
        data = self.templates.synthesize(memories)
        for done, memory in enumerate(memories, 1):
            pairs = self.cached_pairs(memory)
            if len(pairs) > 1:
                question, answer = pairs.pop()
                data.probe.append(QA(question, answer, memory.id, "probe"))
            data.train += [QA(q, a, memory.id, "teacher") for q, a in pairs]
            if self.progress:
                self.progress(done, len(memories))
        random.Random(self.templates.seed).shuffle(data.train)
        return data
