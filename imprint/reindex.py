"""reindex: move a space's vectors to the configured embedder (`imprint reindex --space S`).

The new vectors are staged beside the live ones a batch at a time, each batch committed, so a
reindex that was killed resumes where it stopped; searches keep using the old vectors (with the
old embedder) until all are staged, and then the space switches in one transaction.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import InputError
from .ingest import after, embedding_key
from .records import TextEmbedder
from .spaces import Space

BATCH = 64  # memories embedded and committed together


@dataclass
class ReindexReport:
    space: str
    embedder: str
    before: str | None  # the embedder the vectors came from (None: the space had none)
    memories: int  # vectors in the space
    embedded: int  # embedded by this run (the rest were staged by a run that was stopped)
    seconds: float
    switched: bool = False  # False: nothing to do, the vectors came from this embedder already


def reindex(space: Space, embedder: TextEmbedder, progress: Callable[[int, int], None] | None = None) -> ReindexReport:
    """Re-embed every memory of `space` with `embedder`; nothing to do when it made them already.
    `progress(staged, total)` is called after each batch."""
    started = time.perf_counter()
    store, target = space.store, embedder.record
    held = store.embedder_record()
    report = ReindexReport(space.name, str(target), str(held) if held else None, store.reindex_counts()[1], 0, 0.0)
    if held is None or held.matches(target):
        return report
    while not store.swap_staged(target):  # memories added meanwhile are embedded before the switch
        rows = store.unstaged(target, BATCH)
        if not rows:
            raise InputError(
                f"some memories of {space.name!r} could not be read to embed again: run "
                f"`imprint check --space {space.name} --repair`, then reindex"
            )
        vectors = embedder.embed([embedding_key(kind, text) for _, kind, text, _ in rows])
        follows = [i for i, (_, kind, _, previous) in enumerate(rows) if kind == "conversation" and previous]
        if follows and embedder.context_weight:  # a turn's key holds the turn before it, as ingest made it
            before = embedder.embed([rows[i][3] for i in follows])
            vectors[follows] = after(vectors[follows], before, embedder.context_weight)
        store.stage_vectors({memory_id: vector for (memory_id, *_), vector in zip(rows, vectors)})
        report.embedded += len(rows)
        if progress:
            progress(*store.reindex_counts())
    report.switched = True
    report.memories = store.reindex_counts()[1]
    report.seconds = time.perf_counter() - started
    return report
