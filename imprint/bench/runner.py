"""Run strategies side by side on the same questions, same model, same greedy decoding.

none    the base model alone (what it knew before any memory)
context as many memories as fit in the window
index   the top k memories
weights the space's adapter, no memories in the prompt
hybrid  the adapter plus the top k memories
"""

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..memory import Memory
from ..prompt import qa_prompt
from ..weights.plan import Gate, TrainConfig
from . import datasets
from .datasets import UNANSWERABLE, Dataset, Question
from .metrics import contains, exact_match, multi_answer_f1, normalise, token_f1
from .world import world

STRATEGIES = ("none", "context", "index", "weights", "hybrid", "auto")
_ABSTAIN = ("unknown", "not mentioned", "no information", "not known", "does not say", "not available")


@dataclass
class Row:
    strategy: str
    category: str
    question: str
    gold: str
    prediction: str
    correct: bool
    exact: bool
    f1: float
    seconds: float
    prompt_tokens: int
    answered_by: str = ""  # the tier that answered (what auto chose; the strategy itself otherwise)
    learned: str = ""  # "consolidated" or "added after" (consolidation) where the set names its documents
    said: str = ""  # the reader's words before they were cut to the answer's form (the prediction)
    f1_as_said: float = 0.0  # token F1 of those words: what the answer's form gained or lost


@dataclass
class BenchResult:
    dataset: str
    documents: int
    knowledge_tokens: int
    rows: list[Row] = field(default_factory=list)
    costs: dict[str, float] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)  # which reader and embedder answered

    def summary(self) -> dict[str, dict]:
        """Per strategy: accuracy, EM, F1, latency p50/p95, prompt tokens, and accuracy per category."""
        by_strategy: dict[str, list[Row]] = defaultdict(list)
        for row in self.rows:
            by_strategy[row.strategy].append(row)
        summary = {}
        for strategy, rows in by_strategy.items():
            categories: dict[str, list[bool]] = defaultdict(list)
            f1s: dict[str, list[float]] = defaultdict(list)
            learned: dict[str, list[bool]] = defaultdict(list)
            for row in rows:
                categories[row.category].append(row.correct)
                f1s[row.category].append(row.f1)
                if row.learned:
                    learned[row.learned].append(row.correct)
            seconds = [r.seconds for r in rows]
            summary[strategy] = {
                "questions": len(rows),
                "accuracy": float(np.mean([r.correct for r in rows])),
                "exact_match": float(np.mean([r.exact for r in rows])),
                "f1": float(np.mean([r.f1 for r in rows])),
                "f1_as_said": float(np.mean([r.f1_as_said for r in rows])),
                # over the questions that have an answer (LoCoMo's anchors leave out the adversarial ones)
                "f1_answerable": _mean([r.f1 for r in rows if r.gold != UNANSWERABLE]),
                "f1_answerable_as_said": _mean([r.f1_as_said for r in rows if r.gold != UNANSWERABLE]),
                "f1_by_category": {c: float(np.mean(v)) for c, v in sorted(f1s.items())},
                "p50_s": float(np.percentile(seconds, 50)),
                "p95_s": float(np.percentile(seconds, 95)),
                "prompt_tokens": float(np.mean([r.prompt_tokens for r in rows])),
                "by_category": {c: float(np.mean(v)) for c, v in sorted(categories.items())},
                "by_learned": {c: float(np.mean(v)) for c, v in sorted(learned.items())},
                "answered_by": dict(Counter(r.answered_by for r in rows)),
            }
        return summary

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "documents": self.documents,
            "knowledge_tokens": self.knowledge_tokens,
            "models": self.models,
            "costs": self.costs,
            "summary": self.summary(),
            "rows": [asdict(r) for r in self.rows],
        }


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def judge(prediction: str, gold: str, category: str = "") -> tuple[bool, bool, float]:
    """(correct, exact match, token F1). Correct: the gold answer appears in the prediction, or, for an
    unanswerable question, the prediction abstains. Multi-hop F1 follows LoCoMo's list rule."""
    if gold == UNANSWERABLE:
        abstained = any(marker in normalise(prediction) for marker in _ABSTAIN)
        return abstained, abstained, float(abstained)
    f1 = multi_answer_f1(prediction, gold) if category == "multi-hop" else token_f1(prediction, gold)
    return contains(prediction, gold), exact_match(prediction, gold), f1


def bare_prompt(question: Question) -> str:
    """The prompt with no memories in it: the weights format for a question, the sentence start as is."""
    return qa_prompt(question.text) if question.kind == "qa" else question.text


def answer(memory: Memory, question: Question, strategy: str, k: int = 5) -> tuple[str, str, int, str]:
    """(prediction, the reader's words before they were cut to the answer's form, prompt tokens, the
    tier that answered)."""
    if strategy == "none":
        generation = memory.answerer.generate(bare_prompt(question), memory.settings.answer_tokens)
        return generation.text, generation.text, generation.prompt_tokens, "none"
    reply = memory.ask(question.text, question.space, strategy, k)
    return reply.text, reply.said, reply.prompt_tokens, reply.strategy


def asked_row(memory: Memory, question: Question, strategy: str, learned: str = "") -> Row:
    """One question asked with one strategy, timed and judged (the answer and the reader's own words)."""
    began = time.perf_counter()
    prediction, said, prompt_tokens, answered_by = answer(memory, question, strategy)
    seconds = time.perf_counter() - began
    correct, exact, f1 = judge(prediction, question.answer, question.category)
    said_f1 = judge(said, question.answer, question.category)[2]
    return Row(
        strategy,
        question.category,
        question.text,
        question.answer,
        prediction,
        correct,
        exact,
        f1,
        seconds,
        prompt_tokens,
        answered_by,
        learned,
        said,
        said_f1,
    )


def run_bench(
    memory: Memory,
    dataset: Dataset,
    strategies: list[str],
    limit: int | None = None,
    train: TrainConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] = print,
    seed: int = 0,
    fresh: float = 0.0,
) -> BenchResult:
    """Ingest, consolidate when a strategy needs weights, then ask every question (or a seeded sample
    of `limit`, so every category is represented) with every strategy. `fresh`: the share of each
    space's documents (its last ones) added only after consolidation, as a user's newer memories;
    where the set names each question's documents, its rows say whether they were consolidated."""
    unknown = set(strategies) - set(STRATEGIES)
    if unknown:
        raise InputError(f"unknown strategies {sorted(unknown)}; choose from {', '.join(STRATEGIES)}")
    if not 0 <= fresh < 1:
        raise InputError(f"fresh is a share of the documents, 0 <= fresh < 1; got {fresh}")
    started = time.perf_counter()
    later = {}
    for space, items in dataset.spaces.items():
        cut = len(items) - round(len(items) * fresh)
        memory.ingest(items[:cut], space)
        later[space] = items[cut:]
    costs = {"ingest_s": time.perf_counter() - started}
    if {"weights", "hybrid", "auto"} & set(strategies):
        for space in dataset.spaces:
            # measured whatever the gate says
            report = memory.consolidate(space, train, Gate(0.0, 0.0, 0.0), log=log)
            costs["train_s"] = costs.get("train_s", 0.0) + report.train_seconds
            costs["adapter_bytes"] = costs.get("adapter_bytes", 0) + report.adapter_bytes
            costs["retention"] = report.retention
            costs["probe_recall"] = report.probe_recall
    for space, items in later.items():
        memory.ingest(items, space)
    late = {item.source for items in later.values() for item in items} if "train_s" in costs else set()
    tokens = sum(
        memory.model.count_tokens(m.text)
        for space in dataset.spaces
        for m in memory.list_memories(space, limit=memory.count(space))
    )
    s = memory.settings
    reader = memory.models.reader_gguf
    models = {
        "profile": s.profile,
        "embedder": memory.embedder.name,
        "base model": s.model,
        "reader": s.answer_url or (reader.name if reader else s.model),
    }
    result = BenchResult(dataset.name, dataset.documents, tokens, costs=costs, models=models)
    questions = dataset.questions
    if limit and limit < len(questions):
        chosen = sorted(random.Random(seed).sample(range(len(questions)), limit))
        questions = [questions[i] for i in chosen]
    for strategy in strategies:
        for done, question in enumerate(questions, 1):
            learned = (
                ("added after" if late & set(question.sources) else "consolidated") if late and question.sources else ""
            )
            result.rows.append(asked_row(memory, question, strategy, learned))
            if progress:
                progress(strategy, done, len(questions))
    return result


def dataset_named(name: str, size: int, path: Path | None, corpus: Path | None, seed: int) -> Dataset:
    """The dataset `imprint bench --dataset NAME` asks for: the generated world, or a file of one of
    the public sets."""
    if name == "world":
        return world(size, seed)
    if name not in ("locomo", "squad", "counterfact", "hotpotqa"):
        raise InputError(f"unknown dataset {name!r}: world, locomo, squad, hotpotqa or counterfact")
    if path is None or (name == "hotpotqa" and corpus is None):
        raise InputError(f"--dataset {name} needs --path" + (" and --corpus" if name == "hotpotqa" else ""))
    return datasets.hotpotqa(path, corpus) if name == "hotpotqa" else getattr(datasets, name)(path)
