"""Context distillation: the frozen base model reading a memory teaches the adapter that answers without it.

The teacher is the base model with the memory in its prompt (the context tier's own prompt); the
student is base + adapter with the bare question. At each answer token the student is fitted to the
teacher's top-k next-token distribution (Cartridges' self-study, Knowledge Modules' deep context
distillation), not only to the one gold token. A teacher that does not read the gold answer out of
the memory (its greedy answer differs) gives no target: that row falls back to the gold span.

The teacher's top-k per row is computed once and cached per memory, so a retrain after new memories
only reads the new ones. An encrypted space gets no cache (its answers would be stored in the clear).
"""

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from ..progress import Progress
from ..records import Chunk
from .synth import QA
from .train import SoftTarget, base_top_k

# Rows a teacher can read: a question whose short answer is in one memory (not a restatement,
# not an open-book row that already has memories in its prompt, not replay).
DISTILLED_KINDS = {"natural", "wh", "cloze", "teacher"}


def teacher_targets(
    model,
    tokenizer,
    pairs: list[QA],
    memories: list[Chunk],
    top_k: int,
    cache_dir: Path | None,
    model_key: str = "",
    batch_size: int = 16,
    log: Callable[[str], None] = print,
    progress: Progress | None = None,
) -> list[SoftTarget | None]:
    """One target per pair (None where there is no teacher signal), aligned with `pairs`."""
    by_id = {m.id: m for m in memories}
    targets: list[SoftTarget | None] = [None] * len(pairs)
    cache = _Cache(cache_dir, f"{model_key}\n{top_k}")
    todo, cached_rows = [], 0
    for index, pair in enumerate(pairs):
        memory = by_id.get(pair.memory_id)
        if pair.kind not in DISTILLED_KINDS or memory is None:
            continue
        cached = cache.get(memory, pair)
        if cached is False:
            todo.append((index, memory, pair))
        else:
            targets[index] = cached
            cached_rows += 1
    todo.sort(key=lambda item: item[1].id)  # a batch's rows then share the memory as well as the prompt's start
    for start in range(0, len(todo), batch_size):
        if progress:
            progress("teacher (the base reads each memory)", start, len(todo))
        chunk = todo[start : start + batch_size]
        for (index, memory, pair), target in zip(chunk, _read(model, tokenizer, chunk, top_k)):
            targets[index] = target
            cache.put(memory, pair, target)
    cache.flush()
    log(f"teacher: {len(todo)} rows read, {cached_rows} from the cache")
    return targets


def _read(model, tokenizer, chunk: list[tuple[int, Chunk, QA]], top_k: int) -> list[SoftTarget | None]:
    """The teacher's top-k at each answer token of each row, or None where its greedy answer is not
    the gold one."""
    # the row as an open-book one (the context tier's prompt around its memory)
    values, ids, targets, row_of = base_top_k(
        model, tokenizer, [replace(pair, context=(memory,)) for _, memory, pair in chunk], top_k
    )
    found = []
    for row in range(len(chunk)):
        # the answer's words, not its closing newline: after an answer the teacher's prompt (worked
        # examples end in a blank line) expects "\n\n", the bare-question format a single "\n"
        words = torch.nonzero(row_of == row).squeeze(1)[:-1]
        agrees = len(words) > 0 and bool((ids[words, 0] == targets[words]).all())
        found.append(SoftTarget(ids[words].to(torch.int32), values[words].to(torch.float16)) if agrees else None)
    return found


class _Cache:
    """Per memory, a file of {question + answer: target}; the name holds the memory's id (so forget
    can remove it) and a hash of its text, the base model and k (so a change misses)."""

    def __init__(self, folder: Path | None, key: str) -> None:
        self.folder, self.key = folder, key
        self.loaded: dict[Path, dict] = {}
        self.changed: set[Path] = set()

    def _file(self, memory: Chunk) -> Path | None:
        if self.folder is None:
            return None
        digest = hashlib.sha256(f"{self.key}\n{memory.text}".encode()).hexdigest()[:16]
        return self.folder / f"{memory.id}-{digest}.pt"

    def _entries(self, file: Path) -> dict:
        if file not in self.loaded:
            self.loaded[file] = torch.load(file, weights_only=True) if file.exists() else {}
        return self.loaded[file]

    def get(self, memory: Chunk, pair: QA) -> SoftTarget | None | bool:
        """The cached target (None: the teacher disagreed), or False when it is not cached."""
        file = self._file(memory)
        if file is None:
            return False
        entry = self._entries(file).get(f"{pair.question}\n{pair.answer}", False)
        return entry if entry is False or entry is None else SoftTarget(*entry)

    def put(self, memory: Chunk, pair: QA, target: SoftTarget | None) -> None:
        file = self._file(memory)
        if file is not None:
            self._entries(file)[f"{pair.question}\n{pair.answer}"] = (
                None if target is None else (target.ids, target.logprobs)
            )
            self.changed.add(file)

    def flush(self) -> None:
        for file in self.changed:
            file.parent.mkdir(parents=True, exist_ok=True)
            partial = file.with_suffix(".partial")
            torch.save(self.loaded[file], partial)
            partial.replace(file)
        self.changed.clear()
