"""Multi-hop recall over the entity graph: personalised PageRank, as HippoRAG does.

Memories and the names they mention form a bipartite graph. A walk restarts at the names in the
question (rarer names weigh more) and at the best dense matches, and spreads: a passage that
shares a name with a passage the question points to gains score even when it shares no words
with the question, which is how the second hop of "the director of the film that ..." is found.
The graph follows the store like the vector index: rebuilt after a deletion, extended otherwise.
"""

import threading

import numpy as np
from scipy import sparse

from ..store.sqlite import SpaceStore

RESTART = 0.5  # probability of jumping back to the seeds at each step (HippoRAG uses 0.5)
STEPS = 30


class GraphIndex:
    def __init__(self, store: SpaceStore) -> None:
        self._store = store
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        stamp = (self._store.deletions(), self._store.mention_count())
        if stamp == self._stamp:
            return
        memories, entities = self._store.mentions()
        self._memory_ids, memory_rows = np.unique(memories, return_inverse=True)
        self._entity_ids, entity_rows = np.unique(entities, return_inverse=True)
        m, e = len(self._memory_ids), len(self._entity_ids)
        ones = np.ones(len(memories), dtype=np.float32)
        # memories are nodes 0..m-1, entities m..m+e-1; edges both ways
        rows = np.concatenate([memory_rows, entity_rows + m])
        cols = np.concatenate([entity_rows + m, memory_rows])
        adjacency = sparse.csr_matrix((np.concatenate([ones, ones]), (rows, cols)), shape=(m + e, m + e))
        degree = np.asarray(adjacency.sum(axis=0)).ravel()
        self._walk = (adjacency @ sparse.diags(1.0 / np.maximum(degree, 1))).tocsr()  # column-stochastic
        self._stamp = stamp

    def rank(self, entity_seeds: dict[int, float], memory_seeds: dict[int, float], limit: int) -> list[tuple[int, float]]:
        """(memory id, score) of the `limit` best memories for a walk restarting at the seeds."""
        with self._lock:
            self._refresh()
            m = len(self._memory_ids)
            restart = np.zeros(self._walk.shape[0])
            for ids, seeds, offset in ((self._entity_ids, entity_seeds, m), (self._memory_ids, memory_seeds, 0)):
                positions = np.searchsorted(ids, list(seeds)) if seeds else []
                for position, (node_id, weight) in zip(positions, seeds.items()):
                    if position < len(ids) and ids[position] == node_id:
                        restart[offset + position] += weight
            if not restart.any():
                return []
            restart /= restart.sum()
            score = restart.copy()
            for _ in range(STEPS):
                score = RESTART * restart + (1 - RESTART) * (self._walk @ score)
            memory_scores = score[:m]
            best = np.argsort(-memory_scores)[:limit]
            return [(int(self._memory_ids[i]), float(memory_scores[i])) for i in best if memory_scores[i] > 0]
