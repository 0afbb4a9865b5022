"""Consolidation: move a space's memories into its own adapter, and keep it only if it is good.

select memories -> synthesise QA (+ a held-out probe) -> add replay of the base model's own answers
-> the teacher reads each memory (context distillation) -> train LoRA -> measure probe recall and
retention (short of the retention gate: shrink the adapter toward the base while the probe passes)
-> gate -> save (and promote if it passed)

Incremental (`start`): the current adapter trains on the new memories only, starting from its own
weights, with a sample of the rows it learned before replayed beside them; the gate also asks that
it still answers `Gate.min_kept` of the earlier probe questions it answered before.
"""

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InputError
from ..progress import Progress, ProgressLines
from ..records import Chunk
from .adapters import AdapterRegistry, Manifest
from .control import (
    base_answers,
    correct,
    own_question_count,
    own_questions,
    replay_cache,
    replay_set,
    retention_set,
)
from .distill import teacher_targets
from .plan import REPLAY_REPEATS, SHRINK_SCALES, Gate, TrainConfig
from .precision import dtype_name, train_dtype
from .synth import Synthesizer, TemplateSynthesizer
from .train import (
    complete,
    greedy_answers,
    load_student,
    recall_of,
    scale_delta,
    train_adapter,
)

EARLIER_ROWS = 2  # rows learned before, replayed per new row in an incremental update
EARLIER_PROBES = 60  # earlier probe questions checked before and after an incremental update


@dataclass
class ConsolidationReport:
    space: str
    version: int
    promoted: bool
    reason: str
    memories: int
    train_examples: int
    replay_examples: int
    probe_examples: int
    probe_recall: float
    retention: float
    epochs_run: int
    train_seconds: float
    examples_per_second: float
    adapter_bytes: int
    distilled_examples: int = 0  # rows with a teacher target (the teacher read the gold answer)
    teacher_seconds: float = 0.0
    dtype: str = "fp32"
    losses: list[float] = field(default_factory=list)  # mean per epoch
    step_losses: list[float] = field(default_factory=list)
    probe_history: list[float] = field(default_factory=list)  # probe recall after each epoch
    forgotten: list[dict[str, str]] = field(default_factory=list)  # control questions the adapter lost
    scale: float = 1.0  # the share of the trained delta kept (below 1: shrunk to pass the retention gate)
    shrinks: list[dict[str, float]] = field(default_factory=list)  # probe recall and retention per scale tried
    path: str = ""
    from_version: int | None = None  # incremental: the adapter it started from
    learned_before: int = 0  # incremental: memories that adapter had learned
    earlier_recall_before: float | None = None  # incremental: earlier probe recall before and after
    earlier_recall: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def consolidate(
    memories: list[Chunk],
    space: str,
    model,
    model_dir: Path,
    registry: AdapterRegistry,
    cache_dir: Path,
    config: TrainConfig | None = None,
    gate: Gate | None = None,
    replay_repeats: int = REPLAY_REPEATS,
    log: Callable[[str], None] = print,
    synthesizer: Synthesizer | None = None,
    packaged: bool = False,
    progress: Progress | None = None,
    start: Manifest | None = None,
    learned: list[Chunk] | None = None,
) -> ConsolidationReport:
    """`packaged`: the base is the packaged default, whose replay pool ships with imprint. `progress`
    gets each stage's counted steps (default: a line through `log` at least every 15 s). `start`: the
    adapter an incremental update begins from, and `learned` the memories it learned (`memories`
    are then the new ones only)."""
    progress = progress or ProgressLines(log)
    config = config or TrainConfig()
    gate = gate or Gate()
    synthesizer = synthesizer or TemplateSynthesizer(seed=config.seed, open_book=config.open_book)
    data = synthesizer.synthesize(memories)
    if not data.train or not data.probe:
        raise InputError(f"nothing to consolidate in {space!r}: no facts (names, places, dates, numbers) found")
    log(f"synthesised {len(data.train)} training and {len(data.probe)} probe questions from {len(memories)} memories")

    answers_file, pool_file = replay_cache(cache_dir, model_dir, packaged)
    answers = base_answers(model, answers_file, progress)
    student, tokenizer = load_student(model_dir, config, registry.readable(start.version) if start else None)
    earlier_rows, earlier_probe, earlier_before = [], [], None
    if start:
        earlier = synthesizer.synthesize(learned or [])
        rng = random.Random(config.seed)
        earlier_rows = rng.sample(earlier.train, min(len(earlier.train), EARLIER_ROWS * len(data.train)))
        earlier_probe = rng.sample(earlier.probe, min(len(earlier.probe), EARLIER_PROBES))
        earlier_before = recall_of(student, tokenizer, earlier_probe)
        log(
            f"incremental: {len(memories)} new memories on v{start.version} ({len(learned or [])} learned); "
            f"{len(earlier_rows)} earlier rows replayed, earlier probe recall {earlier_before:.0%} before"
        )
    replayed = []
    if replay_repeats:
        count = own_question_count(len(data.train))
        log(f"replay: {count} general questions the base model writes and answers (once per base model, then cached)")
        with student.disable_adapter():
            own = own_questions(
                lambda prompts, tokens: complete(
                    student,
                    tokenizer,
                    prompts,
                    tokens,
                    on_batch=lambda done, total: progress("replay pool", done, total),
                ),
                pool_file,
                count,
            )
        replayed = (replay_set(answers) + own) * replay_repeats
    dtype = dtype_name(train_dtype(config.dtype))
    started = time.perf_counter()
    soft = [None] * len(data.train)
    if config.distill_weight:
        soft = teacher_targets(
            student,
            tokenizer,
            data.train,
            memories,
            config.top_k,
            registry.teacher_dir,
            str(model_dir),
            log=log,
            progress=progress,
        )
    teacher_seconds = time.perf_counter() - started
    distilled = sum(target is not None for target in soft)
    if config.distill_weight:
        log(f"teacher read the gold answer in {distilled} of {len(data.train)} rows ({teacher_seconds:.0f} s)")
    result = train_adapter(
        student,
        tokenizer,
        data.train + earlier_rows + replayed,
        data.probe,
        config,
        log,
        soft + [None] * (len(earlier_rows) + len(replayed)),
        progress,
    )

    # retention: held-out general questions the base answers right; how many still are, adapter on
    known = [(q, gold) for q, gold in retention_set() if correct([answers[q]], [gold])[0]]
    forgotten = _forgotten(result.model, tokenizer, known, answers, progress)
    scale, probe_recall = 1.0, result.probe_history[-1]
    shrinks = [{"scale": scale, "probe_recall": probe_recall, "retention": _retention(known, forgotten)}]
    for smaller in SHRINK_SCALES:  # short of the retention gate: move the adapter toward the base
        if shrinks[-1]["retention"] >= gate.min_retention or probe_recall < gate.min_probe_recall:
            break
        scale_delta(result.model, smaller / scale)
        recall = recall_of(result.model, tokenizer, data.probe)
        if recall < gate.min_probe_recall:
            scale_delta(result.model, scale / smaller)
            log(f"scaled to {smaller:g}: probe recall {recall:.0%} < {gate.min_probe_recall:.0%}; kept {scale:g}")
            break
        scale, probe_recall = smaller, recall
        forgotten = _forgotten(result.model, tokenizer, known, answers, progress)
        shrinks.append({"scale": scale, "probe_recall": probe_recall, "retention": _retention(known, forgotten)})
        log(f"scaled to {scale:g}: probe recall {probe_recall:.0%}, retention {shrinks[-1]['retention']:.0%}")
    retention, after, before = shrinks[-1]["retention"], len(known) - len(forgotten), len(known)

    failures = []
    if probe_recall < gate.min_probe_recall:
        failures.append(f"probe recall {probe_recall:.0%} < {gate.min_probe_recall:.0%}")
    earlier_recall = recall_of(result.model, tokenizer, earlier_probe) if start else None
    if earlier_recall is not None and earlier_before is not None and earlier_recall < gate.min_kept * earlier_before:
        failures.append(f"earlier probe recall {earlier_before:.0%} -> {earlier_recall:.0%}")
    if retention < gate.min_retention:
        failures.append(f"retention {retention:.0%} < {gate.min_retention:.0%}")
    promoted = not failures
    reason = "passed the gate" if promoted else "kept the previous adapter: " + "; ".join(failures)
    version = registry.next_version()
    data_hash = hashlib.sha256(json.dumps([asdict(q) for q in data.train]).encode()).hexdigest()
    manifest = Manifest(
        version=version,
        base_model=str(model_dir),
        memory_ids=sorted({m.id for m in memories} | set(start.memory_ids if start else [])),
        data_hash=data_hash,
        promoted=promoted,
        reason=reason,
        metrics={
            "probe_recall": probe_recall,
            "retention": retention,
            "train_seconds": result.seconds,
            "examples": len(data.train) + len(replayed),
            "epochs": result.epochs_run,
            "distilled_examples": distilled,
            "dtype": dtype,
            "scale": scale,
            **({"from_version": start.version, "earlier_recall": earlier_recall or 0.0} if start else {}),
        },
    )
    path = registry.save(result.model, manifest)
    size = registry.size_bytes(version)
    log(f"v{version}: probe recall {probe_recall:.0%}, retention {retention:.0%} ({after}/{before}) -> {reason}")
    return ConsolidationReport(
        space=space,
        version=version,
        promoted=promoted,
        reason=reason,
        memories=len(memories),
        train_examples=len(data.train),
        replay_examples=len(replayed),
        probe_examples=len(data.probe),
        probe_recall=probe_recall,
        retention=retention,
        epochs_run=result.epochs_run,
        train_seconds=result.seconds,
        examples_per_second=result.examples_per_second,
        adapter_bytes=size,
        losses=result.losses,
        step_losses=result.step_losses,
        probe_history=result.probe_history,
        path=str(path),
        distilled_examples=distilled,
        teacher_seconds=teacher_seconds,
        dtype=dtype,
        forgotten=forgotten,
        scale=scale,
        shrinks=shrinks,
        from_version=start.version if start else None,
        learned_before=len(start.memory_ids) if start else 0,
        earlier_recall_before=earlier_before,
        earlier_recall=earlier_recall,
    )


def incremental_start(
    current: Manifest | None, memory_ids: list[int], replaced: dict[int, list], full: bool, same_shape: bool = True
) -> tuple[Manifest | None, str]:
    """(the adapter an update can start from or None, why). It can when one is current, has the LoRA
    shape asked for (`same_shape`), every memory it learned is still to be trained (none forgotten or
    replaced since) and none of their sentences was replaced by a memory it did not learn;
    `replaced`: memory id -> its Replacements."""
    if full:
        return None, "--full: every memory trained from the base"
    if current is None:
        return None, "no current adapter: every memory trained from the base"
    if not same_shape:
        return None, f"v{current.version} has another LoRA rank or modules: every memory trained from the base"
    learned = set(current.memory_ids)
    if not learned <= set(memory_ids):
        return None, f"v{current.version} learned memories since forgotten or replaced: trained again from the base"
    if any(r.by not in learned for rs in replaced.values() for r in rs):
        return None, f"a sentence v{current.version} learned was replaced since: trained again from the base"
    if learned >= set(memory_ids):
        return None, f"v{current.version} learned all {len(memory_ids)} memories: trained again from the base"
    return current, f"incremental: the new memories on top of v{current.version}"


def lora_shape(folder: Path) -> tuple[int, tuple[str, ...]]:
    """(rank, target modules) of the adapter saved in `folder` (its adapter_config.json is never sealed)."""
    config = json.loads((folder / "adapter_config.json").read_text())
    return config["r"], tuple(sorted(config["target_modules"]))


def _forgotten(
    model, tokenizer, known: list[tuple[str, str]], base: dict[str, str], progress: Progress
) -> list[dict[str, str]]:
    """The known control questions the model (adapter on) no longer answers right."""
    said = greedy_answers(
        model,
        tokenizer,
        [q for q, _ in known],
        on_batch=lambda done, total: progress("retention (general questions, adapter on)", done, total),
    )
    return [
        {"question": q, "gold": gold, "base": base[q], "adapter": answer}
        for (q, gold), answer, right in zip(known, said, correct(said, [g for _, g in known]))
        if not right
    ]


def _retention(known: list, forgotten: list) -> float:
    return 1 - len(forgotten) / len(known) if known else 1.0
