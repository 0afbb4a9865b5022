"""Exact dense search over a space's vectors, held in memory as one float32 matrix.

Brute force needs no index build and can never disagree with the rows in SQLite. The matrix
follows the store: new rows are appended by id, and any deletion reloads it.
"""

import threading

import numpy as np

from ..store.sqlite import SpaceStore


class VectorIndex:
    def __init__(self, store: SpaceStore) -> None:
        self._store = store
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix: np.ndarray | None = None
        self._deletions = -1
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        deletions = self._store.deletions()
        if deletions != self._deletions:
            self._ids, self._matrix = np.zeros(0, dtype=np.int64), None
            self._deletions = deletions
        last = int(self._ids[-1]) if len(self._ids) else 0
        ids, vectors = self._store.vectors_after(last)
        if len(ids):
            self._ids = np.concatenate([self._ids, ids])
            added = np.asarray(vectors, dtype=np.float32)
            self._matrix = added if self._matrix is None else np.concatenate([self._matrix, added])

    def search(self, query: np.ndarray, limit: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) of the `limit` nearest memories, best first; with
        `allowed` (sorted ids), only among those."""
        with self._lock:
            self._refresh()
            if self._matrix is None or limit <= 0:
                return []
            ids = self._ids
            matrix = self._matrix
        if allowed is not None:
            keep = np.isin(ids, allowed, assume_unique=True)
            ids, matrix = ids[keep], matrix[keep]
        scores = matrix @ np.asarray(query, dtype=np.float32)
        limit = min(limit, len(scores))
        if limit == 0:
            return []
        best = np.argpartition(-scores, limit - 1)[:limit]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in best]

    def nearest(self, queries: np.ndarray) -> list[tuple[int, float] | None]:
        """For each query row, its nearest stored memory (id, cosine), in one product; None if empty."""
        with self._lock:
            self._refresh()
            if self._matrix is None:
                return [None] * len(queries)
            scores = np.asarray(queries, dtype=np.float32) @ self._matrix.T
            ids = self._ids
        best = scores.argmax(axis=1)
        return [(int(ids[i]), float(scores[row, i])) for row, i in enumerate(best)]
