"""forget: delete rows -> drop the kept context states -> probe the weights -> drop the adapter versions
that learned them -> probe again.

The rows go first (a memory, a source): chunks, vectors, keyword entries and, while other memories
keep it, the memory's sentences in its raw item. Then every adapter version that learned any of
them is deleted; if the current one had, the weights are asked about the memories before and after,
so the report shows the fact is gone from the weights too.
"""

from dataclasses import dataclass
from pathlib import Path

from .errors import EncryptionError
from .llm.choose import Models
from .prompt import qa_prompt
from .records import Chunk
from .spaces import Space
from .text.redact import redact
from .weights.control import correct
from .weights.synth import QA, TemplateSynthesizer

PROBE_QUESTIONS = 8  # questions asked of the weights to show a forgotten fact is gone


@dataclass
class Forgotten:
    memory_ids: list[int]
    adapter_versions_removed: list[int]  # versions that had learned a forgotten memory
    current_adapter: int | None  # what the weights strategy uses now (None: re-run consolidate)
    # when the current adapter had learned it: share of its probe questions the weights answered
    # before and after (after: the adapter now current, or the bare base model)
    weights_recall_before: float | None = None
    weights_recall_after: float | None = None


def forget_memory(space: Space, memory_id: int, models: Models) -> Forgotten:
    """A memory with its repeats from other sources, in every tier."""
    return forget_in_weights(space, space.store.delete_memory(memory_id, redact), models)


def forget_source(space: Space, source: str, models: Models) -> Forgotten:
    """Everything that came from `source`, in every tier."""
    return forget_in_weights(space, space.store.delete_source(source), models)


def forget_in_weights(space: Space, memories: list[Chunk], models: Models) -> Forgotten:
    """Delete the adapter versions that learned these (already deleted) memories, probing the
    current one before and after when it had learned any."""
    space.activations.drop()  # the kept context states hold the forgotten text in another form
    registry = space.adapters
    ids = [m.id for m in memories]
    before = registry.current()
    probe: list[QA] = []
    if before is not None and set(ids) & set(before.memory_ids):
        data = TemplateSynthesizer().synthesize([m for m in memories if m.dropped is None])
        probe = (data.probe + data.train)[:PROBE_QUESTIONS]
        try:
            recall_before = _weights_recall(probe, registry.readable(before.version), models)
        except EncryptionError:  # a damaged sealed adapter is deleted all the same, unprobed
            probe = []
    removed = registry.forget(set(ids))
    current = registry.current()
    report = Forgotten(ids, removed, current.version if current else None)
    if probe:
        report.weights_recall_before = recall_before
        report.weights_recall_after = _weights_recall(
            probe, registry.readable(current.version) if current else None, models
        )
    return report


def _weights_recall(probe: list[QA], adapter: Path | None, models: Models) -> float:
    answers = [
        models.answerer.generate(qa_prompt(qa.question), max_new_tokens=16, adapter=adapter).text for qa in probe
    ]
    return sum(correct(answers, [qa.answer for qa in probe])) / len(probe)
