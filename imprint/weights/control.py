"""The control set: general questions the base model answers, to replay and to measure retention.

Half of the questions are replayed during training with the base model's *own* answers as
targets (self-distillation: it needs no outside data and teaches the adapter to leave the rest of
the model alone); the other half is never trained on and measures retention. Beside them, the
base model writes a few hundred general questions of its own and answers them (`own_questions`):
more shapes of question to hold steady than 200 fixed ones. Both are made once per base model and
cached.
"""

import json
import random
import re
import zlib
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from ..progress import Progress
from ..prompt import qa_prompt
from ..text.salience import content_words
from ..text.words import found_in
from .json_cache import read_json_cache, write_json_cache
from .synth import QA

PACKAGED_ANSWERS = "data/gemma3-270m.answers.json"  # the packaged base's replay cache, as shipped
PACKAGED_POOL = "data/gemma3-270m.own.json"
OWN_QUESTIONS = 400  # general questions the base model writes itself, replayed beside the control half
MAX_OWN_QUESTIONS = 1200  # ... for a large space (own_question_count); writing them takes ~10 min on 2 cores
STARTS = (
    "Who",
    "What",
    "Which",
    "Where",
    "When",
    "In which year",
    "How many",
    "What is the name of",
    "Who wrote",
    "What does",
)  # how its questions begin, in turn: the shapes a space's facts are asked in


def replay_cache(cache_dir: Path, model_dir: Path, packaged: bool) -> tuple[Path, Path]:
    """The files of the base's control answers and of its own questions (`base_answers`,
    `own_questions`). The packaged base's are shipped in the package (scripts/replay_pool.py wrote
    them; computing them took ~10 minutes of a first consolidation on 2 cores): copied into the
    cache on first use, where a larger space's pool may grow."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", str(model_dir)).strip("-")[-80:]
    answers, own = cache_dir / "control" / f"{slug}.json", cache_dir / "control" / f"{slug}.own.json"
    if packaged:
        for cached, shipped in ((answers, PACKAGED_ANSWERS), (own, PACKAGED_POOL)):
            if read_json_cache(cached) is None:
                write_json_cache(cached, json.loads(files("imprint.weights").joinpath(shipped).read_text()))
    return answers, own


def control_questions() -> list[tuple[str, str]]:
    return [tuple(q) for q in json.loads(files("imprint.weights").joinpath("data/control_questions.json").read_text())]


def is_replay(question: str) -> bool:
    """A fixed, content-based split: the same question is always on the same side."""
    return zlib.crc32(question.encode()) % 2 == 0


def base_answers(model, cache_file: Path, progress: Progress | None = None) -> dict[str, str]:
    """The base model's greedy answers to every control question (cached per base model; questions
    added to the set since are answered and added)."""
    answers = read_json_cache(cache_file) or {}
    missing = [q for q, _ in control_questions() if q not in answers]
    for done, question in enumerate(missing):
        if progress:
            progress("control answers (the base model's, once)", done, len(missing))
        answers[question] = model.generate(qa_prompt(question), max_new_tokens=16).text
    if missing:
        write_json_cache(cache_file, answers)
    return answers


def replay_set(answers: dict[str, str]) -> list[QA]:
    return [QA(q, a, -1, "replay") for q, a in answers.items() if is_replay(q) and a]


def own_question_count(training_rows: int) -> int:
    """How many questions the base writes to replay for a space trained on `training_rows`: about
    0.65 per row (some 60% come out well-formed), at least OWN_QUESTIONS and at most MAX_OWN_QUESTIONS.
    On 200 made-up facts (1,850 rows) 1,200 instead of 400 kept more of the general questions no
    step uses (74% -> 79%) and answered more of the facts (91% -> 95%; docs/benchmarks.md)."""
    return min(MAX_OWN_QUESTIONS, max(OWN_QUESTIONS, round(0.65 * training_rows)))


def own_questions(
    complete: Callable[[list[str], int], list[str]], cache_file: Path, count: int = OWN_QUESTIONS
) -> list[QA]:
    """Replay rows the base model writes itself from its first `count` prompts: shown three replayed
    control questions and the start of a fourth, it finishes the question, then answers it
    (`complete(prompts, max_new_tokens)`: the base's greedy continuations, so the set is
    reproducible). The 200 fixed replay questions cover few of the shapes a space's facts teach: a
    50-fact adapter answered "In which year did World War II end?" with 1939 and "Who wrote The
    Hobbit?" with "The Hobbit". Cached per base model; a larger `count` writes only the prompts
    beyond those cached, and a smaller one reads the rows of its first `count` prompts."""
    cached = read_json_cache(cache_file)
    fresh = {"prompts": 0, "pairs": []}
    written = cached if isinstance(cached, dict) and set(cached) == set(fresh) else fresh
    if written["prompts"] < count:
        known = {question for _, question, _ in written["pairs"]}
        more = [pair for pair in _pool_rows(complete, written["prompts"], count) if pair[1] not in known]
        written = {"prompts": count, "pairs": written["pairs"] + more}
        write_json_cache(cache_file, written)
    return [
        QA(question, answer, -1, "replay") for prompt, question, answer in written["pairs"] if prompt < count and answer
    ]


def _pool_rows(complete: Callable[[list[str], int], list[str]], start: int, stop: int) -> list[list]:
    """[prompt number, question, answer] for the base's prompts start..stop-1 (the prompts are the
    same whatever `stop` is, so a pool grows without changing what it held)."""
    examples = [(q, gold) for q, gold in control_questions() if is_replay(q)]
    rng = random.Random(0)
    shown = [rng.sample(examples, 3) for _ in range(stop)][start:]
    starts = (STARTS * stop)[start:stop]
    prompts = [
        "".join(f"{qa_prompt(q)} {gold}\n\n" for q, gold in three) + f"Question: {first}"
        for three, first in zip(shown, starts)
    ]
    first_prompt = {}
    for number, (first, end) in enumerate(zip(starts, complete(prompts, 24)), start=start):
        first_prompt.setdefault(f"{first} {end}", number)
    questions = list(first_prompt)
    kept = not_held_out(dict(zip(questions, complete([qa_prompt(q) for q in questions], 16))))
    return [[first_prompt[question], question, answer] for question, answer in kept.items()]


def not_held_out(pairs: dict[str, str]) -> dict[str, str]:
    """The well-formed questions, minus any that asks a held-out control question again (retention
    would then measure what was replayed): one holding all of its content words, or half of them
    with its gold answer in the question or the answer."""
    held_out = [(content_words(q), gold) for q, gold in retention_set()]
    kept = {}
    for question, answer in pairs.items():
        if not question.endswith("?") or not 3 <= len(question.split()) <= 25:
            continue
        words = content_words(question)
        if any(
            held <= words or (len(words & held) >= len(held) / 2 and found_in(gold, [question, answer]))
            for held, gold in held_out
            if held
        ):
            continue
        kept[question] = answer
    return kept


def retention_set() -> list[tuple[str, str]]:
    """Held-out control questions (never replayed) with their gold answers."""
    return [(q, gold) for q, gold in control_questions() if not is_replay(q)]


def correct(answers: list[str], golds: list[str]) -> list[bool]:
    """Whether each answer says its gold answer as a word (a plural too): "Tunis" is not in
    "Tunisia", nor "6" in "360°", but "kidney" is in "The kidneys"."""
    return [
        re.search(rf"(?<!\w){re.escape(gold)}(?:e?s)?(?!\w)", answer, re.IGNORECASE) is not None
        for answer, gold in zip(answers, golds)
    ]
