"""The control set: general questions the base model answers, to replay and to measure retention.

Half of the questions are replayed during training with the base model's *own* answers as
targets (self-distillation: it needs no outside data and teaches the adapter to leave the rest of
the model alone); the other half is never trained on and measures retention. The base answers
are generated once per base model and cached.
"""

import json
import zlib
from importlib.resources import files
from pathlib import Path

from ..prompt import qa_prompt
from .synth import QA


def control_questions() -> list[tuple[str, str]]:
    return [tuple(q) for q in json.loads(files("imprint.weights").joinpath("data/control_questions.json").read_text())]


def is_replay(question: str) -> bool:
    """A fixed, content-based split: the same question is always on the same side."""
    return zlib.crc32(question.encode()) % 2 == 0


def base_answers(model, cache_file: Path) -> dict[str, str]:
    """The base model's greedy answers to every control question (cached per base model; questions
    added to the set since are answered and added)."""
    answers = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    missing = [q for q, _ in control_questions() if q not in answers]
    if missing:
        answers |= {q: model.generate(qa_prompt(q), max_new_tokens=16).text for q in missing}
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(answers, indent=1))
    return answers


def replay_set(answers: dict[str, str]) -> list[QA]:
    return [QA(q, a, -1, "replay") for q, a in answers.items() if is_replay(q) and a]


def retention_set() -> list[tuple[str, str]]:
    """Held-out control questions (never replayed) with their gold answers."""
    return [(q, gold) for q, gold in control_questions() if not is_replay(q)]


def correct(answers: list[str], golds: list[str]) -> list[bool]:
    return [gold.lower() in answer.lower() for answer, gold in zip(answers, golds)]
