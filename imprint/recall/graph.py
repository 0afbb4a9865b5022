"""Multi-hop recall over the entity graph: spread from the question's best matches to the memories
they point at.

Every memory mentions names and has a subject: the first name it mentions (a passage's title, a
turn's speaker). The relation the graph uses is "A mentions the subject of B". A question's second
hop ("the director of the film that ...") shares few words with the question, but the passage
about the film (found by dense search) names the director, whose own passage has that name for
subject. So the walk goes one step: from the seeds (the best dense matches, weighted by
similarity, and the names the question itself mentions) over the names they mention to the
memories those names are the subject of, each name's weight shared among its memories so a hub
(a speaker who is the subject of hundreds of turns) spreads almost nothing.

On HotpotQA this found the second passage where personalised PageRank over the same names (the
walk HippoRAG uses, tried first) did not: docs/benchmarks.md, "HotpotQA multi-hop retrieval".
The graph follows the store like the vector index: rebuilt after a deletion or a new mention.
"""

import threading

import numpy as np
from scipy import sparse

from ..store.base import SpaceStore


class GraphIndex:
    def __init__(self, store: SpaceStore) -> None:
        self._store = store
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        stamp = (self._store.deletions(), self._store.mention_count())
        if stamp == self._stamp:
            return
        memories, entities, subject = self._store.mentions()
        self._memory_ids, memory_rows = np.unique(memories, return_inverse=True)
        self._entity_ids, entity_rows = np.unique(entities, return_inverse=True)
        shape = (len(self._memory_ids), len(self._entity_ids))
        ones = np.ones(len(memories), dtype=np.float32)
        self._mentions = sparse.csr_matrix((ones, (memory_rows, entity_rows)), shape=shape)
        about = sparse.csr_matrix((ones[subject], (memory_rows[subject], entity_rows[subject])), shape=shape)
        shared = np.asarray(about.sum(axis=0)).ravel()  # how many memories each name is the subject of
        self._about = (about @ sparse.diags(1.0 / np.maximum(shared, 1))).tocsr()
        self._stamp = stamp

    def spread(self, memory_seeds: dict[int, float], entity_seeds: dict[int, float]) -> dict[int, float]:
        """Memory id -> weight reached in one step from the seeds: seed memories pass their weight
        to the names they mention, seed names keep theirs, and each name passes it to the
        memories it is the subject of."""
        with self._lock:
            self._refresh()
            seeds = np.zeros(len(self._memory_ids))
            self._place(seeds, self._memory_ids, memory_seeds)
            names = self._mentions.T @ seeds
            self._place(names, self._entity_ids, entity_seeds)
            reached = self._about @ names
            found = np.flatnonzero(reached)
            return {int(self._memory_ids[i]): float(reached[i]) for i in found}

    @staticmethod
    def _place(vector: np.ndarray, ids: np.ndarray, weights: dict[int, float]) -> None:
        if not weights or not len(ids):
            return
        keys = np.fromiter(weights, dtype=np.int64)
        positions = np.minimum(np.searchsorted(ids, keys), len(ids) - 1)
        for position, key in zip(positions, keys):
            if ids[position] == key:
                vector[position] += weights[int(key)]
